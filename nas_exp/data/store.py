"""The project's compact, columnar NB201 store: one uncompressed ``.npz`` per dataset plus ``meta.json``.

Layout: ``<root>/nb201/<source>/meta.json`` and ``<root>/nb201/<source>/<dataset>.npz``.

Every array is indexed by NB201 index (0..15624) first. Per-run metrics have shape ``(15625, n_seeds, n_epochs)``
(NaN where a cell has fewer seeds or a metric is absent at an epoch; float64, or float32 for full
learning curves to keep them small); ``epochs`` lists which epochs (1-based) are
stored. Per-cell metrics (params, flops, latency) have shape ``(15625,)``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nas_exp.search_spaces.nb201 import N_CELLS

FORMAT_VERSION = 1
DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
# Metrics measured per training run (seed) and epoch. train_time is cumulative seconds to reach that epoch.
RUN_METRICS: tuple[str, ...] = (
    "train_acc", "train_loss", "valid_acc", "valid_loss", "test_acc", "test_loss", "train_time",
)
# Metrics of the cell itself. params in millions (NB201's "MB"), flops in millions, latency in seconds per batch.
CELL_METRICS: tuple[str, ...] = ("params", "flops", "latency")


class StoreError(RuntimeError):
    """A missing, corrupt or incompatible NB201 store."""


@dataclass
class DatasetTable:
    """All stored results of one dataset (see the module docstring for shapes)."""

    dataset: str
    epochs: np.ndarray
    total_epochs: int
    run_metrics: dict[str, np.ndarray] = field(default_factory=dict)
    cell_metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def validate(self) -> None:
        for name, values in {**self.run_metrics, **self.cell_metrics}.items():
            if values.dtype not in (np.float32, np.float64):
                raise StoreError(f"{self.dataset}/{name} has dtype {values.dtype}, expected float32 or float64")
        if self.dataset not in DATASETS:
            raise StoreError(f"unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}")
        n_epochs = len(self.epochs)
        n_seeds = None
        for name, values in self.run_metrics.items():
            if name not in RUN_METRICS:
                raise StoreError(f"unknown run metric {name!r}; valid: {', '.join(RUN_METRICS)}")
            if values.ndim != 3 or values.shape[0] != N_CELLS or values.shape[2] != n_epochs:
                raise StoreError(f"{self.dataset}/{name} has shape {values.shape}, "
                                 f"expected ({N_CELLS}, seeds, {n_epochs})")
            if n_seeds is not None and values.shape[1] != n_seeds:
                raise StoreError(f"{self.dataset}/{name} has {values.shape[1]} seeds, others have {n_seeds}")
            n_seeds = values.shape[1]
        for name, values in self.cell_metrics.items():
            if name not in CELL_METRICS:
                raise StoreError(f"unknown cell metric {name!r}; valid: {', '.join(CELL_METRICS)}")
            if values.shape != (N_CELLS,):
                raise StoreError(f"{self.dataset}/{name} has shape {values.shape}, expected ({N_CELLS},)")

    @property
    def n_seeds(self) -> int:
        return next(iter(self.run_metrics.values())).shape[1] if self.run_metrics else 0

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(m for m in RUN_METRICS + CELL_METRICS if m in self.run_metrics or m in self.cell_metrics)


def source_dir(root: Path | str, source: str) -> Path:
    return Path(root) / "nb201" / source


def write_store(root: Path | str, source: str, tables: list[DatasetTable], description: str) -> Path:
    """Write ``tables`` as the store of ``source`` under ``root``, atomically (temp folder + rename)."""
    for table in tables:
        table.validate()
    target = source_dir(root, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{source}-", dir=target.parent))
    try:
        for table in tables:
            arrays = {"epochs": np.asarray(table.epochs, dtype=np.int32)}
            arrays.update({f"run__{k}": np.asarray(v) for k, v in table.run_metrics.items()})
            arrays.update({f"cell__{k}": np.asarray(v) for k, v in table.cell_metrics.items()})
            np.savez(tmp / f"{table.dataset}.npz", **arrays)
        meta = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "description": description,
            "datasets": {
                t.dataset: {"total_epochs": int(t.total_epochs), "epochs": [int(e) for e in t.epochs],
                            "n_seeds": t.n_seeds, "metrics": list(t.metrics)}
                for t in tables
            },
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
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


def read_meta(root: Path | str, source: str, how_to_get: str) -> dict:
    path = source_dir(root, source) / "meta.json"
    if not path.is_file():
        raise StoreError(f"no NB201 store for source {source!r} at {path.parent}: {how_to_get}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"corrupt NB201 store {path} ({err}): {how_to_get}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"NB201 store {path.parent} has format {meta.get('format_version')}, this nas_exp reads "
                         f"{FORMAT_VERSION}: {how_to_get}")
    return meta


def read_table(root: Path | str, source: str, dataset: str, meta: dict, how_to_get: str) -> DatasetTable:
    path = source_dir(root, source) / f"{dataset}.npz"
    info = meta["datasets"][dataset]
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        table = DatasetTable(
            dataset=dataset,
            epochs=arrays.pop("epochs"),
            total_epochs=int(info["total_epochs"]),
            run_metrics={k.removeprefix("run__"): v for k, v in arrays.items() if k.startswith("run__")},
            cell_metrics={k.removeprefix("cell__"): v for k, v in arrays.items() if k.startswith("cell__")},
        )
        table.validate()
        if list(table.epochs) != info["epochs"] or sorted(table.metrics) != sorted(info["metrics"]):
            raise StoreError("contents disagree with meta.json")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, StoreError) as err:
        raise StoreError(f"corrupt NB201 store file {path} ({err}): {how_to_get}") from None
    return table
