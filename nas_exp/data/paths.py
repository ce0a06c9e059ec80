"""Where the data store lives, independently of the working directory, and how its files are made shareable.

The root is, first found: an explicit root (``--root``, ``evaluation.root``, ``optimizer.cache_root``), else
``$NAS_EXP_DATA``, else the per-user default ``$XDG_DATA_HOME/nas-exp`` (``~/.local/share/nas-exp`` where
``XDG_DATA_HOME`` is unset). Relative paths are made absolute against the working directory at the time they are
resolved (``run.py`` resolves them before Hydra may change it). An explicit root or ``$NAS_EXP_DATA`` must exist
(``existing_root``): a typo is an error, never a new folder; only ``python -m nas_exp.data build/convert/download``
create one. The default root is created on first use, when a source that ships in an installed package is built.

Folders and files written into the store get the modes of the umask (``shareable``): ``tempfile`` creates 0700
folders and 0600 files, which would keep a store that is renamed into place from the other users of a shared one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nas_exp.errors import MissingDataError

ENV_VAR = "NAS_EXP_DATA"
XDG_VAR = "XDG_DATA_HOME"
APP_DIR = "nas-exp"
ROOT_HELP = f"store folder (default: ${ENV_VAR}, else ${XDG_VAR}/{APP_DIR} or ~/.local/share/{APP_DIR})"


class StoreRootError(MissingDataError):
    """An explicitly given store root that does not exist (or is not a folder)."""


@dataclass(frozen=True)
class StoreRoot:
    """A resolved store root: ``path`` (absolute), ``given`` (how it was given, for messages: ``--root``-style
    value, ``NAS_EXP_DATA=...``, or ``default``) and whether it was given explicitly."""

    path: Path
    given: str
    explicit: bool


def default_root() -> Path:
    """``$XDG_DATA_HOME/nas-exp``, else ``~/.local/share/nas-exp`` (absolute, whatever the working directory)."""
    xdg = os.environ.get(XDG_VAR, "")
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else Path.home() / ".local/share"
    return base / APP_DIR


def locate_root(root: str | os.PathLike | None = None) -> StoreRoot:
    """The store root that ``root`` (None or "": not given) selects, with where it came from."""
    if root not in (None, ""):
        return StoreRoot(Path(os.path.abspath(Path(root).expanduser())), f"store root {root}", True)
    value = os.environ.get(ENV_VAR, "")
    if value:
        path = Path(os.path.abspath(Path(value).expanduser()))
        shown = value if str(path) == value else f"{value} ({path})"
        return StoreRoot(path, f"{ENV_VAR}={shown}", True)
    return StoreRoot(default_root(), "default", False)


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The absolute store root ``root`` selects (see the module docstring); nothing is checked or created."""
    return locate_root(root).path


def existing_root(root: str | os.PathLike | None = None) -> Path:
    """The store root, refused (``StoreRootError``, one line) when it was given explicitly and is not an existing
    folder; the default root is returned whether or not it exists yet (it is created on first use)."""
    where = locate_root(root)
    if where.explicit and not where.path.is_dir():
        problem = "is not a folder" if where.path.exists() else "does not exist"
        raise StoreRootError(f"{where.given} {problem}; create it with python -m nas_exp.data build --root "
                             f"{where.path} or fix the path")
    return where.path


def absolute_env_root(cwd: str | os.PathLike) -> None:
    """Make a relative ``$NAS_EXP_DATA`` absolute against ``cwd``, so that a later change of the working
    directory (``hydra.job.chdir=true``) or a job started elsewhere (a launcher) finds the same store."""
    value = os.environ.get(ENV_VAR, "")
    if value and not Path(value).expanduser().is_absolute():
        os.environ[ENV_VAR] = os.path.abspath(Path(cwd) / Path(value).expanduser())


def absolute_path(value: str | None, cwd: str | os.PathLike) -> str | None:
    """``value`` (a path setting; None or "" unchanged) made absolute against ``cwd``."""
    if value in (None, ""):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else Path(os.path.abspath(Path(cwd) / path)))


def current_umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shareable(path: str | os.PathLike) -> None:
    """Give ``path`` (a file or a folder tree written through ``tempfile``) the modes a plain ``mkdir`` or
    ``open`` would have given it under the umask: folders 0777 & ~umask, files 0666 & ~umask."""
    mask = current_umask()
    path = Path(path)
    if path.is_dir():
        for folder, _, files in os.walk(path):
            os.chmod(folder, 0o777 & ~mask)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o666 & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)
