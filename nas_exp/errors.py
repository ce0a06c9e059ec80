"""The error type of bad input. Anything raised as ``UserError`` (or a subclass) is reported as one
``error: ...`` line with exit code 2; any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import errno
from pathlib import Path


class UserError(ValueError):
    """A bad setting, a missing file, data that cannot be used: what the user can fix, said in one line."""


class MissingDataError(UserError, FileNotFoundError):
    """Data files that are not where they are looked for."""


def import_optional(module: str, who: str, install: str) -> object:
    """Import an optional dependency, or stop with one line: ``who`` needs it, ``install`` gets it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{who} needs {install}") from None


class StorageError(UserError):
    """The run's files cannot be written: a full disk, a read-only or forbidden folder."""


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_error(err: OSError, folder: Path | str | None = None) -> StorageError | None:
    """A full disk or an unwritable folder as one line with its fix; None for any other OSError (a bug, or a
    missing file that its caller reports better)."""
    where = err.filename or folder or "the run folder"
    if err.errno in NO_SPACE:
        return StorageError(f"cannot write {where}: no space left on its device; free some space, or choose a "
                            "folder on another disk with hydra.run.dir=... (a started run continues with "
                            "resume=true)")
    if err.errno == errno.EROFS:
        return StorageError(f"cannot write {where}: read-only file system; choose a writable folder with "
                            "hydra.run.dir=...")
    if err.errno in NOT_WRITABLE:
        return StorageError(f"permission denied on {where}; fix its permissions, or choose a folder you can write "
                            "with hydra.run.dir=...")
    return None


def launcher_error(err: BaseException) -> str | None:
    """A launcher that cannot reach its cluster (hydra/launcher=slurm without SLURM) as one line with its fix;
    None for anything else."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    module = type(err).__module__ or ""
    if isinstance(err, RuntimeError) and '"srun"' in message:
        return ("hydra/launcher=slurm needs a SLURM cluster (srun and sbatch on PATH): start the sweep on a "
                "SLURM login node, or drop hydra/launcher=slurm to run it on this machine")
    if module.startswith("submitit"):
        return (f"SLURM did not take the sweep's jobs ({message}); check the cluster with sinfo, or drop "
                "hydra/launcher=slurm to run it on this machine")
    return None
