"""A tabular benchmark: results of every configuration of a finite space, looked up in the project's store.

Generic over benchmarks: what it holds and how it is laid out come from its ``BenchmarkRecipe``; configurations
are addressed by their row (``index``), which the search space computes (``SearchSpace.table_index``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric
from nas_exp.benchmarks.records import MetricUnavailableError, QueryResult
from nas_exp.data.paths import ENV_VAR, existing_root, locate_root
from nas_exp.data.store import DatasetTable, StoreError, read_meta, read_table, write_store
from nas_exp.errors import UserError


def missing_metric(recipe: BenchmarkRecipe, source: str, metric: str, dataset: str,
                   context: str = "") -> MetricUnavailableError:
    """The error for ``metric`` of ``dataset`` absent from ``source``, naming what the source has instead and
    the sources that have it."""
    info = recipe.sources.get(source)
    has = "" if info is None else f" (it has {', '.join(m for m in info.metrics if (dataset, m) not in info.lacks)})"
    return MetricUnavailableError(
        f"source {source!r} has no {metric} for {dataset}{context}{has}; sources with it: "
        f"{', '.join(recipe.sources_with(metric, dataset)) or 'none'}")


def ensure_store(recipe: BenchmarkRecipe, root: Path, source: str) -> dict:
    """Read the store's meta.json, building it first when the source ships with an installed package (into the
    default root, created then, or into an existing explicit root: ``TabularBenchmark`` refuses a missing one)."""
    info = recipe.source(source)
    try:
        return read_meta(root, recipe, source, info.how_to_get)
    except StoreError:
        if source not in recipe.builders:
            raise
        write_store(root, recipe, source, recipe.builders[source](), info.description)
        return read_meta(root, recipe, source, info.how_to_get)


def old_store_hint(recipe: BenchmarkRecipe, source: str, root: str | Path | None) -> str:
    """Where the default root was ``./data`` (before nas-exp located it independently of the working directory):
    a pointer to a store of ``source`` found there, else ""."""
    old = Path.cwd() / "data"
    if locate_root(root).explicit or not (old / recipe.name / source / "meta.json").is_file():
        return ""
    return (f" (./data/{recipe.name}/{source}, under the old default root, holds one: move that folder there or "
            f"set {ENV_VAR}={old})")


class TabularBenchmark:
    """Query the results of one data source of a benchmark. Tables are loaded per dataset on first use."""

    def __init__(self, recipe: BenchmarkRecipe, source: str | None = None, root: str | Path | None = None) -> None:
        self.recipe = recipe
        self.source = recipe.default_source if source is None else source
        self.info = recipe.source(self.source)
        self.root = existing_root(root)  # an explicit root that does not exist: one-line StoreRootError
        try:
            self.meta = ensure_store(recipe, self.root, self.source)
        except StoreError as err:
            raise StoreError(f"{err}{old_store_hint(recipe, self.source, root)}") from None
        self._tables: dict[str, DatasetTable] = {}

    @property
    def name(self) -> str:
        return self.recipe.name

    # -- what is available ----------------------------------------------------------------------------------
    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(d for d in self.recipe.datasets if d in self.meta["datasets"])

    def metric(self, name: str) -> Metric:
        return self.recipe.metric(name)

    def metrics(self, dataset: str) -> tuple[str, ...]:
        return tuple(self.meta["datasets"][self._check_dataset(dataset)]["metrics"])

    def epochs(self, dataset: str) -> tuple[int, ...]:
        return tuple(self.meta["datasets"][self._check_dataset(dataset)]["epochs"])

    def has(self, dataset: str, metric: str) -> bool:
        return dataset in self.meta["datasets"] and metric in self.meta["datasets"][dataset]["metrics"]

    def checksum(self, dataset: str) -> str:
        """SHA-256 of the dataset's table file, as recorded in meta.json (provenance)."""
        return str(self.meta["datasets"][self._check_dataset(dataset)].get("sha256", ""))

    def table(self, dataset: str) -> DatasetTable:
        self._check_dataset(dataset)
        if dataset not in self._tables:
            self._tables[dataset] = read_table(self.root, self.recipe, self.source, dataset, self.meta,
                                               self.info.how_to_get)
        return self._tables[dataset]

    def n_seeds(self, index: int, dataset: str) -> int:
        """How many training runs the table holds for configuration ``index``."""
        runs = next(iter(self.table(dataset).run_metrics.values()))[index]
        return int(np.sum(~np.all(np.isnan(runs), axis=1)))

    def missing(self, metric: str, dataset: str, context: str = "") -> MetricUnavailableError:
        return missing_metric(self.recipe, self.source, metric, dataset, context)

    # -- queries --------------------------------------------------------------------------------------------
    def query_index(self, index: int, dataset: str, epoch: int | None = None, seed: int | None = None,
                    arch: str | None = None) -> QueryResult:
        """Results of configuration ``index`` on ``dataset`` after ``epoch`` epochs (default: the last stored),
        for training run ``seed`` (0-based among its runs) or the mean over runs (``seed=None``)."""
        table = self.table(dataset)
        column = self._epoch_column(table, epoch)
        if seed is not None:
            n = self.n_seeds(index, dataset)
            if not (isinstance(seed, (int, np.integer)) and 0 <= seed < n):
                raise UserError(f"seed {seed!r} is out of range: {arch or index} has {n} runs on {dataset} "
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
        for name, array in table.config_metrics.items():
            value = float(array[index])
            values[name] = None if math.isnan(value) else value
        return QueryResult(index=int(index), dataset=dataset, epoch=int(table.epochs[column]),
                           seed=None if seed is None else int(seed), source=self.source, values=values,
                           arch=arch, benchmark=self.name, sources_with=self.recipe.sources_with)

    def metric_array(self, dataset: str, metric: str, epoch: int | None = None) -> np.ndarray:
        """Seed-mean ``metric`` of every configuration (row order): the batched query."""
        table = self.table(dataset)
        if metric in table.config_metrics:
            return table.config_metrics[metric]
        if metric not in table.run_metrics:
            raise self.missing(metric, dataset)
        with warnings.catch_warnings():  # configurations the table has no run of (NaN) stay NaN, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(table.run_metrics[metric][:, :, self._epoch_column(table, epoch)], axis=1)

    def optimum(self, dataset: str, metric: str, epoch: int | None = None) -> tuple[float, int]:
        """The best seed-mean value of ``metric`` on ``dataset`` (in the metric's direction) and its row."""
        values = self.metric_array(dataset, metric, epoch)
        if np.all(np.isnan(values)):
            raise self.missing(metric, dataset)
        row = int(np.nanargmax(values) if self.metric(metric).maximize else np.nanargmin(values))
        return float(values[row]), row

    # -- checks ---------------------------------------------------------------------------------------------
    def _check_dataset(self, dataset: str) -> str:
        self.recipe.check_dataset(dataset)
        if dataset not in self.meta["datasets"]:
            raise MetricUnavailableError(
                f"source {self.source!r} has no {dataset} results (it has {', '.join(self.datasets)}); "
                f"sources with it: {', '.join(self.recipe.sources_with(dataset=dataset))}"
            )
        return dataset

    def _epoch_column(self, table: DatasetTable, epoch: int | None) -> int:
        if epoch is None:
            return len(table.epochs) - 1
        if not (isinstance(epoch, (int, np.integer)) and 1 <= epoch <= table.total_epochs):
            raise UserError(f"epoch {epoch!r} is out of range 1..{table.total_epochs}")
        hits = np.flatnonzero(table.epochs == epoch)
        if hits.size == 0:
            raise MetricUnavailableError(
                f"source {self.source!r} stores {table.dataset} only at epoch(s) "
                f"{', '.join(map(str, table.epochs))}, not {epoch}; sources with learning curves: "
                f"{', '.join(self.recipe.sources_with(dataset=table.dataset, curves=True)) or 'none'}"
            )
        return int(hits[0])
