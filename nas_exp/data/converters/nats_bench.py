"""Reader for NATS-Bench topology search space (NATS-tss) data, the successor of NAS-Bench-201.

Two official forms (D-X-Y/NATS-Bench ``nats_bench/api_topology.py`` ``NATStopology.__init__`` and
``nats_bench/api_utils.py`` ``NASBenchMetaAPI.reload`` / ``pickle_load``):

* the archive directory ``NATS-tss-v1_0-3ffb9-simple`` (the API's ``fast_mode=True``): ``meta.pickle.pbz2`` holds
  ``{"meta_archs": [...], ...}`` and one ``<index>.pickle.pbz2`` per cell (``{index:06d}`` or ``{index:d}``) holds
  ``{hp: ArchResults state}`` with hp ``"12"`` and ``"200"`` (training epochs);
* the single benchmark file ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (``fast_mode=False``): ``{"meta_archs": [...],
  "arch2infos": {index: {hp: ArchResults state}}, "evaluated_indexes": [...]}``.

Every ``.pickle.pbz2`` is a bz2-compressed pickle of plain dicts; the ArchResults / ResultsCount states are the ones
of NAS-Bench-201 (see ``nb201_pth.py``). The archive is read through the ``nats_bench`` package when it is
installed (its ``pickle_load`` and ``ArchResults``), else directly.
"""

from __future__ import annotations

import bz2
import importlib
import os
import pickle
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from nas_exp.data.converters.nb201_pth import TableBuilder, add_arch_results, check_meta_archs, finish
from nas_exp.data.store import DatasetTable
from nas_exp.errors import UserError
from nas_exp.search_spaces.nb201 import N_CELLS

HP = "200"  # the full 200-epoch training of NATS-tss (hp "12" is the short schedule)
PICKLE_EXT = ".pickle.pbz2"
META_FILE = "meta" + PICKLE_EXT


def load_pbz2(path: Path) -> Any:
    """Unpickle a bz2-compressed pickle (the format of every NATS-Bench file)."""
    try:
        return pickle.loads(bz2.decompress(path.read_bytes()))
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError) as err:
        raise UserError(f"{path}: not a readable NATS-Bench .pickle.pbz2 file ({type(err).__name__}: {err})") from None


def arch_files(directory: Path) -> list[Path]:
    """The file of every cell in an archive directory, by index (``000123.pickle.pbz2`` or ``123.pickle.pbz2``)."""
    names = set(os.listdir(directory))
    files = []
    for index in range(N_CELLS):
        name = next((n for n in (f"{index:06d}{PICKLE_EXT}", f"{index}{PICKLE_EXT}") if n in names), None)
        if name is None:
            raise UserError(f"{directory}: no file for arch {index} ({index:06d}{PICKLE_EXT} or {index}{PICKLE_EXT});"
                             " the archive is incomplete: extract NATS-tss-v1_0-3ffb9-simple.tar again")
        files.append(directory / name)
    return files


def _hp_state(infos: Any, hp: str, where: str) -> Any:
    if not isinstance(infos, Mapping) or hp not in infos:
        found = sorted(infos) if isinstance(infos, Mapping) else type(infos).__name__
        raise UserError(f"{where}: no results for hp={hp!r} (found {found})")
    return infos[hp]


def _nats_package() -> Any | None:
    try:
        return importlib.import_module("nats_bench")  # imports nats_bench.api_utils too
    except ImportError:
        return None


# -- archive directory -----------------------------------------------------------------------------------------
def _load_direct(path: Path, hp: str) -> Any:
    return _hp_state(load_pbz2(path), hp, str(path))


def _load_via_package(path: Path, hp: str, package: Any) -> Any:
    """One cell through the package's own loader and ArchResults class (what its ``reload`` does per file).

    Not through ``api.query_meta_info_by_index``: that deep-copies every cell, which takes hours on the real
    200-epoch data.
    """
    try:
        infos = package.api_utils.pickle_load(str(path))
    except Exception as err:  # bz2 / pickle raise many types for a damaged file
        raise UserError(f"{path}: not a readable NATS-Bench file ({type(err).__name__}: {err})") from None
    state = _hp_state(infos, hp, str(path))
    try:
        results = package.ArchResults.create_from_state_dict(state)
    except (ValueError, TypeError, AttributeError) as err:
        raise UserError(f"{path}: nats_bench cannot read the hp={hp!r} results ({err})") from None
    return results.state_dict()


def _convert_archive(directory: Path, hp: str, use_package: bool | None) -> list[DatasetTable]:
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{directory}: no {META_FILE}; not a NATS-tss archive directory")
    meta = load_pbz2(meta_path)
    if not isinstance(meta, Mapping) or "meta_archs" not in meta:
        raise UserError(f"{meta_path}: lacks 'meta_archs'; not a NATS-Bench meta file")
    meta_archs = meta["meta_archs"]
    check_meta_archs(meta_archs, meta_path)
    package = _nats_package() if use_package in (None, True) else None
    if use_package and package is None:
        raise UserError("use_package=True, but the nats_bench package is not installed (pip install nats_bench)")
    files = arch_files(directory)
    load = partial(_load_direct, hp=hp) if package is None else partial(_load_via_package, hp=hp, package=package)
    builders: dict[str, TableBuilder] = {}
    for index, path in enumerate(files):
        add_arch_results(builders, index, load(path), f"{path}: hp={hp}", meta_archs[index])
    return finish(builders, directory)


# -- single benchmark file -------------------------------------------------------------------------------------
def _convert_benchmark_file(path: Path, hp: str) -> list[DatasetTable]:
    data = load_pbz2(path)
    if not isinstance(data, Mapping) or not {"meta_archs", "arch2infos"} <= set(data):
        raise UserError(f"{path}: lacks 'meta_archs' / 'arch2infos'; not a NATS-Bench benchmark file")
    meta_archs = data["meta_archs"]
    check_meta_archs(meta_archs, path)
    builders: dict[str, TableBuilder] = {}
    for key, infos in data["arch2infos"].items():
        index = int(key)
        if not 0 <= index < N_CELLS:
            raise UserError(f"{path}: 'arch2infos' has index {key!r}, outside 0..{N_CELLS - 1}")
        where = f"{path}: arch {index} hp={hp}"
        add_arch_results(builders, index, _hp_state(infos, hp, where), where, meta_archs[index])
    return finish(builders, path)


def convert_nats_tss(path: Path | str, hp: str = HP, use_package: bool | None = None) -> list[DatasetTable]:
    """All ``hp`` results of NATS-tss, one table per dataset, in NB201 index order.

    ``path`` is the extracted ``NATS-tss-v1_0-3ffb9-simple`` directory or the ``NATS-tss-v1_0-3ffb9.pickle.pbz2``
    file. ``use_package``: None reads the directory through ``nats_bench`` when it is installed, True requires it,
    False reads the files directly.
    """
    path = Path(path)
    if path.is_dir():
        return _convert_archive(path, str(hp), use_package)
    if path.is_file() and path.name.endswith(PICKLE_EXT):
        return _convert_benchmark_file(path, str(hp))
    raise UserError(f"{path}: expected the NATS-tss-v1_0-3ffb9-simple directory or a NATS-tss .pickle.pbz2 file")
