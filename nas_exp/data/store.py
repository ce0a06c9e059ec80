"""The project's compact, columnar store of tabular benchmarks: one uncompressed ``.npz`` per dataset (task) plus
``meta.json``, for any benchmark described by a ``BenchmarkRecipe`` (``nas_exp.benchmarks.base``).

Layout: ``<root>/<benchmark>/<source>/meta.json`` and ``<root>/<benchmark>/<source>/<dataset>.npz``.

Every array is indexed by configuration row first (0..n_configs-1, the benchmark's own order). Per-run metrics
have shape ``(n_configs, n_seeds, n_fidelities)`` (NaN where a configuration has fewer seeds or a metric is
absent at a fidelity; float64, or float32 for full learning curves to keep them small); ``epochs`` lists which
fidelities (1-based epochs) are stored. Per-configuration metrics have shape ``(n_configs,)``. ``meta.json``
records the benchmark, its size, the metrics with their directions, and the SHA-256 of every table file, so a
swapped or damaged file is detected when it is read, not served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nas_exp.benchmarks.base import BenchmarkRecipe
from nas_exp.data.paths import shareable
from nas_exp.errors import UserError

FORMAT_VERSION = 2


class StoreError(UserError):
    """A missing, corrupt or incompatible store."""


@dataclass
class DatasetTable:
    """All stored results of one dataset (see the module docstring for shapes)."""

    dataset: str
    epochs: np.ndarray
    total_epochs: int
    run_metrics: dict[str, np.ndarray] = field(default_factory=dict)
    config_metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def validate(self, recipe: BenchmarkRecipe) -> None:
        """Shapes, dtypes and names against the benchmark's recipe (StoreError naming what is wrong)."""
        n_configs = recipe.n_configs
        for name, values in {**self.run_metrics, **self.config_metrics}.items():
            if values.dtype not in (np.float32, np.float64):
                raise StoreError(f"{self.dataset}/{name} has dtype {values.dtype}, expected float32 or float64")
        if self.dataset not in recipe.datasets:
            raise StoreError(f"unknown {recipe.name} dataset {self.dataset!r}; valid: {', '.join(recipe.datasets)}")
        n_epochs = len(self.epochs)
        n_seeds = None
        for name, values in self.run_metrics.items():
            if name not in recipe.run_metrics:
                raise StoreError(f"unknown {recipe.name} run metric {name!r}; valid: {', '.join(recipe.run_metrics)}")
            if values.ndim != 3 or values.shape[0] != n_configs or values.shape[2] != n_epochs:
                raise StoreError(f"{self.dataset}/{name} has shape {values.shape}, "
                                 f"expected ({n_configs}, seeds, {n_epochs})")
            if n_seeds is not None and values.shape[1] != n_seeds:
                raise StoreError(f"{self.dataset}/{name} has {values.shape[1]} seeds, others have {n_seeds}")
            n_seeds = values.shape[1]
        for name, values in self.config_metrics.items():
            if name not in recipe.config_metrics:
                raise StoreError(f"unknown {recipe.name} configuration metric {name!r}; valid: "
                                 f"{', '.join(recipe.config_metrics)}")
            if values.shape != (n_configs,):
                raise StoreError(f"{self.dataset}/{name} has shape {values.shape}, expected ({n_configs},)")

    @property
    def n_seeds(self) -> int:
        return next(iter(self.run_metrics.values())).shape[1] if self.run_metrics else 0

    @property
    def metrics(self) -> tuple[str, ...]:
        return (*self.run_metrics, *self.config_metrics)


def source_dir(root: Path | str, benchmark: str, source: str) -> Path:
    return Path(root) / benchmark / source


def file_checksum(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_store(root: Path | str, recipe: BenchmarkRecipe, source: str, tables: list[DatasetTable],
                description: str) -> Path:
    """Write ``tables`` as the store of ``recipe``'s ``source`` under ``root``, atomically (temp folder +
    rename), with each file's checksum in meta.json; its folders and files get the umask's modes (``shareable``),
    not the 0700 of the temp folder."""
    for table in tables:
        table.validate(recipe)
    target = source_dir(root, recipe.name, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{source}-", dir=target.parent))
    try:
        for table in tables:
            arrays = {"epochs": np.asarray(table.epochs, dtype=np.int32)}
            arrays.update({f"run__{k}": np.asarray(v) for k, v in table.run_metrics.items()})
            arrays.update({f"config__{k}": np.asarray(v) for k, v in table.config_metrics.items()})
            np.savez(tmp / f"{table.dataset}.npz", **arrays)
        meta = {
            "format_version": FORMAT_VERSION,
            "benchmark": recipe.name,
            "n_configs": recipe.n_configs,
            "source": source,
            "description": description,
            "metrics": {name: recipe.metrics[name].to_dict()
                        for name in dict.fromkeys(m for t in tables for m in t.metrics)},
            "datasets": {
                t.dataset: {"total_epochs": int(t.total_epochs), "epochs": [int(e) for e in t.epochs],
                            "n_seeds": t.n_seeds, "metrics": list(t.metrics),
                            "sha256": file_checksum(tmp / f"{t.dataset}.npz")}
                for t in tables
            },
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        shareable(tmp)
        if target.exists():
            old = target.with_name(f".{source}-old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_meta(root: Path | str, recipe: BenchmarkRecipe, source: str, how_to_get: str) -> dict:
    path = source_dir(root, recipe.name, source) / "meta.json"
    if not path.is_file():
        raise StoreError(f"no {recipe.name} store for source {source!r} at {path.parent}: {how_to_get}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"corrupt {recipe.name} store {path} ({err}): {how_to_get}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{recipe.name} store {path.parent} has format {meta.get('format_version')}, this nas_exp "
                         f"reads {FORMAT_VERSION}: {how_to_get}")
    if meta.get("benchmark") != recipe.name or meta.get("n_configs") != recipe.n_configs:
        raise StoreError(f"store {path.parent} holds benchmark {meta.get('benchmark')!r} with "
                         f"{meta.get('n_configs')} configurations, not {recipe.name} ({recipe.n_configs}): "
                         f"{how_to_get}")
    return meta


# Per process, the arrays of every table file read so far, so that the jobs of a sweep (one process with the basic
# launcher) read and checksum a table once. Safe to share: the key is the file's real path, the SHA-256 meta.json
# records for it (checked against the file's bytes when it is first read) and the file's size, mtime and inode (a
# file rewritten since is read and checked again); the values are read-only arrays, and every reader gets its own
# DatasetTable and dicts around them. NAS_EXP_SWEEP_CACHE=0 turns it off.
_ARRAYS: dict[tuple[str, str, int, int, int], dict[str, np.ndarray]] = {}


def read_arrays(path: Path, sha256: str) -> dict[str, np.ndarray]:
    """The arrays of table file ``path`` (read-only), checked against ``sha256`` when read from disk."""
    key = None
    if os.environ.get("NAS_EXP_SWEEP_CACHE", "1") != "0" and path.is_file():
        stat = path.stat()
        key = (str(path.resolve()), sha256, stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if key in _ARRAYS:
            return _ARRAYS[key]
    if path.is_file() and file_checksum(path) != sha256:
        raise StoreError("its checksum differs from meta.json's: the file was swapped or damaged")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for array in arrays.values():
        array.flags.writeable = False  # shared by the runs of this process: nobody may change a table
    if key is not None:
        _ARRAYS[key] = arrays
    return arrays


def read_table(root: Path | str, recipe: BenchmarkRecipe, source: str, dataset: str, meta: dict,
               how_to_get: str) -> DatasetTable:
    """One dataset's table, checked against its checksum in meta.json and against the recipe."""
    path = source_dir(root, recipe.name, source) / f"{dataset}.npz"
    info = meta["datasets"][dataset]
    try:
        arrays = dict(read_arrays(path, str(info.get("sha256"))))
        table = DatasetTable(
            dataset=dataset,
            epochs=arrays.pop("epochs"),
            total_epochs=int(info["total_epochs"]),
            run_metrics={k.removeprefix("run__"): v for k, v in arrays.items() if k.startswith("run__")},
            config_metrics={k.removeprefix("config__"): v for k, v in arrays.items() if k.startswith("config__")},
        )
        table.validate(recipe)
        if list(table.epochs) != info["epochs"] or sorted(table.metrics) != sorted(info["metrics"]):
            raise StoreError("contents disagree with meta.json")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, StoreError) as err:
        raise StoreError(f"corrupt {recipe.name} store file {path} ({err}): {how_to_get}") from None
    return table
