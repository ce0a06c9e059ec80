"""The proxy cache of a finite space, stored beside its table in the data store, built resumably.

Layout: ``<store root>/proxies/<space>/<settings digest>/``

* ``meta.json``: the settings, the batch's source, torch version, the proxies, the space's size and a hash of its
  architecture keys (a cache of another space version is refused), cells done, build seconds;
* ``part_<start>_<stop>.npz``: one chunk of the build (rows = positions in ``canonical_archs()`` order):
  ``rows``, ``scores`` (rows x proxies, float64), ``seconds`` (rows x (1 + proxies): build, then each proxy),
  ``disconnected``;
* ``scores.npz``: every part merged, written at the end of each build: ``keys`` (architecture keys, canonical
  order), ``done``, one float64 array per proxy (NaN where not done), ``seconds_<proxy>``, ``disconnected``.

Every file is written to a temporary name and renamed (atomic). A stopped build keeps its finished parts; the next
``build`` computes only the missing rows. Each row depends only on its architecture and the settings, so a resumed
build equals an uninterrupted one, whatever the chunking or the number of workers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from nas_exp.data.paths import existing_root, resolve_root, shareable
from nas_exp.errors import UserError
from nas_exp.proxies.compute import ProxySettings, make_batch, score_arch
from nas_exp.proxies.measures import PROXY_NAMES, Batch
from nas_exp.search_spaces.base import FINITE, NETWORK, SearchSpace
from nas_exp.torch_threads import one_torch_thread

PART_ROWS = 256


class CacheError(UserError):
    """A proxy cache that is absent, damaged, or of other settings."""


def cache_dir(root: str | Path | None, space_name: str, settings: ProxySettings) -> Path:
    return resolve_root(root) / "proxies" / space_name / settings.digest


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        shareable(tmp)  # mkstemp's 0600 would hide a shared store's cache from its other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, content: dict) -> None:
    _atomic_write(path, lambda out: out.write(json.dumps(content, indent=2, sort_keys=True).encode()))


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _atomic_write(path, lambda out: np.savez(out, **arrays))


def keys_digest(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


@dataclass(frozen=True)
class ProxyTable:
    """The cached proxies of a space: ``scores[proxy]`` and ``seconds[proxy]`` per row in canonical order (NaN
    where not computed yet), ``seconds['build']`` the network building and disconnection check."""

    keys: tuple[str, ...]
    done: np.ndarray
    scores: dict[str, np.ndarray]
    seconds: dict[str, np.ndarray]
    disconnected: np.ndarray
    meta: dict

    @property
    def n_done(self) -> int:
        return int(self.done.sum())

    @property
    def complete(self) -> bool:
        return bool(self.done.all())


# --- parts -------------------------------------------------------------------------------------------------------
def _part_name(start: int, stop: int) -> str:
    return f"part_{start:07d}_{stop:07d}.npz"


def _read_parts(folder: Path, n_rows: int) -> dict[str, np.ndarray]:
    """Every finished part merged (rows not done are NaN / False)."""
    n_proxies = len(PROXY_NAMES)
    merged = {"done": np.zeros(n_rows, dtype=bool), "scores": np.full((n_rows, n_proxies), np.nan),
              "seconds": np.full((n_rows, 1 + n_proxies), np.nan), "disconnected": np.zeros(n_rows, dtype=bool)}
    for path in sorted(folder.glob("part_*.npz")):
        try:
            with np.load(path) as part:
                rows = part["rows"]
                if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
                    raise ValueError("rows out of range")
                merged["scores"][rows] = part["scores"]
                merged["seconds"][rows] = part["seconds"]
                merged["disconnected"][rows] = part["disconnected"]
                merged["done"][rows] = True
        except (OSError, ValueError, KeyError) as err:
            raise CacheError(f"damaged proxy cache part {path} ({err}); delete it and run build again") from None
    return merged


def _score_rows(space: SearchSpace, archs: Sequence[Hashable], settings: ProxySettings,
                batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.empty((len(archs), len(PROXY_NAMES)))
    seconds = np.empty((len(archs), 1 + len(PROXY_NAMES)))
    disconnected = np.zeros(len(archs), dtype=bool)
    for i, arch in enumerate(archs):
        result = score_arch(space, arch, settings, batch)
        scores[i] = [result.scores[p] for p in PROXY_NAMES]
        seconds[i] = [result.seconds["build"], *(result.seconds[p] for p in PROXY_NAMES)]
        disconnected[i] = result.disconnected
    return scores, seconds, disconnected


def _score_chunk(space: SearchSpace, settings: ProxySettings,
                 rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One part's rows, in a worker process (--workers K): torch on one thread, the batch made afresh there."""
    torch.set_num_threads(1)
    archs = list(space.canonical_archs())
    return (rows, *_score_rows(space, [archs[int(r)] for r in rows], settings, make_batch(settings)[0]))


# --- build -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildResult:
    folder: Path
    computed: int  # rows computed by this call
    n_done: int
    n_total: int
    wall_seconds: float


def build_cache(space: SearchSpace, settings: ProxySettings, root: str | Path | None = None,
                limit: int | None = None, workers: int = 1, part_rows: int = PART_ROWS,
                progress: bool = True) -> BuildResult:
    """Compute and cache every proxy for the first ``limit`` (default: all) canonical architectures of ``space``,
    continuing a stopped build."""
    space.require(FINITE, "list its architectures for a proxy cache")
    space.require(NETWORK, "build networks for zero-cost proxies")
    for name, value, least in (("workers", workers, 1), ("part_rows", part_rows, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UserError(f"{name} must be an int >= {least}, got {value!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit must be an int >= 1, got {limit!r}")
    archs = list(space.canonical_archs())
    keys = [space.key(a) for a in archs]
    batch, data_source = make_batch(settings)
    folder = cache_dir(root, space.name, settings)
    meta = _check_or_start_meta(folder, space, settings, keys, data_source)
    merged = _read_parts(folder, len(keys))
    wanted = len(keys) if limit is None else min(limit, len(keys))
    todo = np.flatnonzero(~merged["done"][:wanted])
    chunks = [todo[i:i + part_rows] for i in range(0, len(todo), part_rows)]
    started = time.perf_counter()
    with _progress_bar(progress, f"proxies {space.name}", wanted, wanted - len(todo)) as advance:
        if workers == 1 or len(chunks) <= 1:
            with one_torch_thread():
                for rows in chunks:
                    results = _score_rows(space, [archs[int(r)] for r in rows], settings, batch)
                    _write_part(folder, rows, *results)
                    advance(len(rows))
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                for rows, *results in pool.map(partial(_score_chunk, space, settings), chunks):
                    _write_part(folder, rows, *results)
                    advance(len(rows))
    wall = time.perf_counter() - started
    merged = _read_parts(folder, len(keys))
    meta["n_done"] = int(merged["done"].sum())
    meta["build_wall_seconds"] = float(meta.get("build_wall_seconds", 0.0)) + wall
    meta["build_workers"] = max(workers, int(meta.get("build_workers", 1)))
    done_seconds = merged["seconds"][merged["done"]]
    meta["seconds_per_arch"] = float(done_seconds.sum(axis=1).mean()) if len(done_seconds) else None
    _write_merged(folder, keys, merged)
    _write_json(folder / "meta.json", meta)
    return BuildResult(folder, int(len(todo)), meta["n_done"], len(keys), wall)


def _write_part(folder: Path, rows: np.ndarray, scores: np.ndarray, seconds: np.ndarray,
                disconnected: np.ndarray) -> None:
    _write_npz(folder / _part_name(int(rows[0]), int(rows[-1]) + 1),
               {"rows": np.asarray(rows, dtype=np.int64), "scores": scores, "seconds": seconds,
                "disconnected": disconnected})


def _write_merged(folder: Path, keys: Sequence[str], merged: dict[str, np.ndarray]) -> None:
    arrays = {"keys": np.array(keys), "done": merged["done"], "disconnected": merged["disconnected"],
              "seconds_build": merged["seconds"][:, 0]}
    for j, name in enumerate(PROXY_NAMES):
        arrays[name] = merged["scores"][:, j]
        arrays[f"seconds_{name}"] = merged["seconds"][:, 1 + j]
    _write_npz(folder / "scores.npz", arrays)


def _check_or_start_meta(folder: Path, space: SearchSpace, settings: ProxySettings, keys: Sequence[str],
                         data_source: str) -> dict:
    digest = keys_digest(keys)
    path = folder / "meta.json"
    if path.is_file():
        meta = json.loads(path.read_text())
        if meta.get("keys_sha256") != digest or meta.get("settings") != settings.as_dict():
            raise CacheError(f"proxy cache {folder} was built for other architectures or settings; delete it "
                             "to rebuild")
        return meta
    meta = {"space": space.name, "settings": settings.as_dict(), "data_source": data_source,
            "torch": torch.__version__, "torch_threads": 1, "proxies": list(PROXY_NAMES),
            "n_total": len(keys), "keys_sha256": digest, "n_done": 0, "build_wall_seconds": 0.0,
            "seconds_columns": ["build", *PROXY_NAMES]}
    _write_json(path, meta)
    return meta


class _progress_bar:
    """A rich progress bar with ETA (or nothing), as a context manager giving ``advance(n)``."""

    def __init__(self, show: bool, label: str, total: int, done: int) -> None:
        self.show, self.label, self.total, self.done = show, label, total, done

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total, completed=self.done)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.__exit__(*exc)


# --- read --------------------------------------------------------------------------------------------------------
def read_cache(space: SearchSpace, settings: ProxySettings, root: str | Path | None = None) -> ProxyTable:
    """The cached proxies of ``space`` under ``settings`` (CacheError naming the build command when absent;
    StoreRootError when an explicitly given store root does not exist)."""
    folder = cache_dir(existing_root(root), space.name, settings)
    path = folder / "scores.npz"
    if not path.is_file() or not (folder / "meta.json").is_file():
        raise CacheError(f"no proxy cache for search_space={space.name} with these settings at {folder}; run "
                         f"`python -m nas_exp.proxies build --space {space.name}` (same settings) first")
    meta = json.loads((folder / "meta.json").read_text())
    try:
        with np.load(path) as data:
            keys = tuple(str(k) for k in data["keys"])
            scores = {name: data[name].copy() for name in PROXY_NAMES}
            seconds = {name: data[f"seconds_{name}"].copy() for name in ("build", *PROXY_NAMES)}
            table = ProxyTable(keys, data["done"].copy(), scores, seconds, data["disconnected"].copy(), meta)
    except (OSError, ValueError, KeyError) as err:
        raise CacheError(f"damaged proxy cache {path} ({err}); run build again to rewrite it") from None
    if meta.get("keys_sha256") != keys_digest(keys):
        raise CacheError(f"proxy cache {folder} does not match its meta.json; delete it and run build again")
    return table
