"""Tabular evaluation: look the architecture up in its space's table; its cost is the training time the table
records (simulated wall-clock). Generic: the space says which benchmark and row (``SearchSpace.TABULAR``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nas_exp.benchmarks.base import Metric
from nas_exp.benchmarks.records import MetricUnavailableError
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.errors import UserError
from nas_exp.evaluation.base import Evaluation, Optimum
from nas_exp.search_spaces.base import NETWORK, TABULAR, SearchSpace

SEED_POLICIES = ("mean", "sample")


def _nan_mean(runs: np.ndarray) -> np.ndarray:
    """Mean over the runs axis (1) ignoring missing runs, row by row as ``TabularBenchmark.query_index``
    computes it (``runs[~isnan].mean()``), so the values are the same floats; all-missing rows are NaN."""
    if runs.shape[1] >= 8:  # numpy sums 8 or more values pairwise: zeros in place of missing runs would regroup
        return np.array([r[~np.isnan(r)].mean() if not np.isnan(r).all() else np.nan for r in runs])
    present = ~np.isnan(runs)
    counts = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # fewer than 8: a plain running sum, exact with zeros
        return np.where(present, runs, 0.0).sum(axis=1) / counts


class MeanLookup:
    """Every configuration's full-training evaluation under ``seed_policy=mean``, read once as arrays, so an
    evaluation is a few array reads instead of three table queries (``TabularEvaluator.evaluate``'s common path).
    Rows with a value the general path would refuse (NaN) are marked, and that path answers them."""

    def __init__(self, evaluator: TabularEvaluator) -> None:
        e = evaluator
        bench, epoch = ((e.search_benchmark, None) if e.search_benchmark is not None else (e.benchmark, e.epoch))
        metric = e.search_metric.name
        self.value = self._column(bench, e.search_on, metric, epoch)
        self.final = self._column(e.benchmark, e.search_on, metric, e.epoch)
        self.cost = np.zeros_like(self.value)
        if e.cost_metric is not None:
            searched_cost = (self._column(bench, e.search_on, e.cost_metric, epoch)
                             if bench.has(e.search_on, e.cost_metric) else np.full_like(self.value, np.nan))
            table = bench.table(e.search_on)
            searched_epoch = int(table.epochs[bench._epoch_column(table, epoch)])
            full_cost = self._column(e.benchmark, e.search_on, e.cost_metric, e.epoch)
            self.cost = np.where(np.isnan(searched_cost), full_cost * searched_epoch / e.max_epochs, searched_cost)
        self.test = None
        if e.reports_test:
            assert e.report_metric is not None
            self.test = self._column(e.benchmark, e.report_on, e.report_metric.name, e.epoch)
        self.metrics = {name: self._column(e.benchmark, e.search_on, name, e.epoch)
                        for name in e.benchmark.recipe.config_metrics if e.benchmark.has(e.search_on, name)}
        refused = np.isnan(self.value) | np.isnan(self.final) | np.isnan(self.cost)
        if self.test is not None:
            refused |= np.isnan(self.test)
        self.refused = refused.tolist()
        self._columns = [column.tolist() for column in (self.value, self.test if self.test is not None else
                                                        np.full_like(self.value, np.nan), self.cost, self.final)]
        self._metric_columns = {name: column.tolist() for name, column in self.metrics.items()}
        self._made: dict[int, Evaluation] = {}  # Evaluation is frozen: one object per configuration

    @staticmethod
    def _column(bench: TabularBenchmark, dataset: str, metric: str, epoch: int | None) -> np.ndarray:
        table = bench.table(dataset)
        if metric in table.config_metrics:
            return np.asarray(table.config_metrics[metric], dtype=np.float64)
        return _nan_mean(table.run_metrics[metric][:, :, bench._epoch_column(table, epoch)])

    def evaluation(self, index: int) -> Evaluation:
        made = self._made.get(index)
        if made is None:
            value, test, cost, final = (column[index] for column in self._columns)
            metrics = {name: v for name, column in self._metric_columns.items() if (v := column[index]) == v}
            made = self._made[index] = Evaluation(value=value, test=None if self.test is None else test, cost=cost,
                                                  seed=None, epochs=None, final_value=final, metrics=metrics)
        return made


class TabularEvaluator:
    """Search on the benchmark's search metric (``metric``, default e.g. valid_acc) of ``search_on`` and report
    its report metric (e.g. test_acc) of ``report_on`` (NB201's protocol: for cifar10 the search sees
    cifar10-valid's validation split and the test accuracy comes from full training).

    ``seed_policy``: ``mean`` tells the optimizer the mean over the configuration's training runs; ``sample``
    draws one run with the evaluation's random generator, as the NB201 paper does. Reported values are means.

    ``search_source``: a second source of the same benchmark whose values the optimizer sees instead (e.g.
    ``nb201-hp12``, NB201's 12-epoch schedule); the reported values still come from ``source``. Its cost, when
    that table records no time, is the full training time scaled by its epochs (same per-epoch cost).
    ``budget_as_epochs=False`` answers every multi-fidelity trial as a full evaluation (the NB201 paper's BOHB
    worker ignored its budget this way). ``evaluate(..., epochs=e)`` (multi-fidelity) reads epoch ``e`` of
    ``source``'s learning curves, or ``search_source`` when its schedule is ``e`` epochs long; the cost is the
    training time up to ``e``.
    """

    trains = False  # looks results up: optimizers that train networks themselves cannot use it

    def __init__(self, space: SearchSpace, search_on: str, report_on: str, source: str | None = None,
                 root: str | Path | None = None, epoch: int | None = None, seed_policy: str = "mean",
                 search_source: str | None = None, budget_as_epochs: bool = True, metric: str | None = None,
                 benchmark: TabularBenchmark | None = None, search_benchmark: TabularBenchmark | None = None) -> None:
        if seed_policy not in SEED_POLICIES:
            raise UserError(f"unknown seed_policy {seed_policy!r}; valid: {', '.join(SEED_POLICIES)}")
        space.require(TABULAR, "be evaluated by table lookup (evaluation=tabular); use evaluation=train")
        self.space = space
        self.benchmark = benchmark if benchmark is not None else space.tabular_benchmark(source=source, root=root)
        recipe = self.benchmark.recipe
        hint = "; train on it with evaluation=train" if NETWORK in space.capabilities else ""
        for dataset in dict.fromkeys((search_on, report_on)):
            recipe.check_dataset(dataset, hint)
        self.search_on, self.report_on = search_on, report_on
        self.epoch, self.seed_policy, self.budget_as_epochs = epoch, seed_policy, budget_as_epochs
        self.ignores_budgets = not budget_as_epochs  # every multi-fidelity trial is a full evaluation
        self.search_metric: Metric = recipe.metric(metric or recipe.search_metric)
        self.report_metric: Metric | None = (None if recipe.report_metric is None
                                             else recipe.metric(recipe.report_metric))
        self.cost_metric = recipe.cost_metric
        self.records_cost = self.cost_metric is not None
        for name in (self.search_metric.name, *([self.cost_metric] if self.cost_metric else [])):
            if not self.benchmark.has(search_on, name):
                raise self.benchmark.missing(name, search_on, ", which this dataset searches on")
        if epoch is not None:  # fail now, not mid-search, on an epoch the source lacks
            self.benchmark.query_index(0, search_on, epoch=epoch)
        self.max_epochs = epoch if epoch is not None else self.benchmark.table(search_on).total_epochs
        self.search_benchmark = search_benchmark
        if search_source is not None and search_benchmark is None:
            self.search_benchmark = space.tabular_benchmark(source=search_source, root=root)
        if self.search_benchmark is not None and not self.search_benchmark.has(search_on, self.search_metric.name):
            raise self.search_benchmark.missing(self.search_metric.name, search_on,
                                                ", which evaluation.search_source searches on")
        self.reports_test = self.report_metric is not None and self.benchmark.has(report_on, self.report_metric.name)
        signal = self.search_metric.name if self.search_benchmark is None else (
            f"{self.search_metric.name} of {self.search_benchmark.source} ({self._search_epochs} epochs)")
        report = self.report_metric.name if self.report_metric is not None else "nothing"
        self.description = (f"tabular {recipe.name} ({self.benchmark.source}): search on {search_on} {signal}, "
                            f"report {report_on} {report}")
        if self.report_metric is not None and not self.reports_test:
            self.missing_note = (f"{self.report_metric.name}: not in source {self.benchmark.source!r} for "
                                 f"{report_on} (sources with it: "
                                 f"{', '.join(recipe.sources_with(self.report_metric.name, report_on)) or 'none'})")
        else:
            self.missing_note = ""
        self._lookup: MeanLookup | None = None  # built on the first full evaluation (mean over seeds)

    @property
    def _search_epochs(self) -> int:
        assert self.search_benchmark is not None
        return self.search_benchmark.table(self.search_on).total_epochs

    def evaluate(self, arch: Hashable, rng: np.random.Generator, epochs: int | None = None,
                 hyperparameters: Mapping[str, float] | None = None) -> Evaluation:
        """``hyperparameters`` are ignored: the table holds one training recipe."""
        index = self.space.table_index(arch)
        full = not self.budget_as_epochs or epochs is None or epochs >= self.max_epochs
        if full and self.seed_policy == "mean":
            if self._lookup is None:
                self._lookup = MeanLookup(self)
            if not self._lookup.refused[index]:  # else the general path says what is missing
                return self._lookup.evaluation(index)
        key = self.space.key(arch)
        metric = self.search_metric.name
        final = self.benchmark.query_index(index, self.search_on, epoch=self.epoch, arch=key)
        if not self.budget_as_epochs or (epochs is not None and epochs >= self.max_epochs):
            epochs = None
        if epochs is None:
            bench, epoch = ((self.search_benchmark, None) if self.search_benchmark is not None
                            else (self.benchmark, self.epoch))
        else:
            bench, epoch = self._fidelity_table(epochs)
        seed = None
        if self.seed_policy == "sample":
            seed = int(rng.integers(bench.n_seeds(index, self.search_on)))
        searched = bench.query_index(index, self.search_on, epoch=epoch, seed=seed, arch=key)
        cost = 0.0
        if self.cost_metric is not None:
            cost = searched.get(self.cost_metric)
            if cost is None:  # the table records no time: full training's time per epoch, times the epochs
                cost = final.require(self.cost_metric) * searched.epoch / self.max_epochs
        test = None
        if self.reports_test:
            assert self.report_metric is not None
            test = self.benchmark.query_index(index, self.report_on, epoch=self.epoch,
                                              arch=key).require(self.report_metric.name)
        config_metrics = self.benchmark.recipe.config_metrics
        metrics = {k: v for k in config_metrics if (v := final.get(k)) is not None}
        return Evaluation(value=searched.require(metric), test=test, cost=cost, seed=seed, epochs=epochs,
                          final_value=final.require(metric), metrics=metrics)

    def _fidelity_table(self, epochs: int) -> tuple[TabularBenchmark, int | None]:
        if epochs in self.benchmark.epochs(self.search_on):
            return self.benchmark, epochs
        if self.search_benchmark is not None and self._search_epochs == epochs:
            return self.search_benchmark, None
        have = sorted(self._stored_epochs())
        curves = self.benchmark.recipe.sources_with(dataset=self.search_on, curves=True)
        raise MetricUnavailableError(
            f"no {self.search_on} {self.search_metric.name} after {epochs} epochs: source "
            f"{self.benchmark.source!r} stores epoch(s) {', '.join(map(str, have))}; multi-fidelity search needs "
            f"learning curves (sources: {', '.join(curves) or 'none'}) or budgets on those epochs")

    def reports_metric(self, name: str) -> bool:
        """Whether evaluations carry the per-configuration metric ``name`` (params, latency, ...) in ``metrics``."""
        return name in self.benchmark.recipe.config_metrics and self.benchmark.has(self.search_on, name)

    def metric_names(self) -> tuple[str, ...]:
        """The per-configuration metrics its evaluations carry."""
        return tuple(m for m in self.benchmark.recipe.config_metrics if self.benchmark.has(self.search_on, m))

    def fidelities(self) -> tuple[int, ...] | None:
        """The epoch counts this evaluator can answer for (multi-fidelity budgets must be among them); None:
        any (budgets are ignored)."""
        if not self.budget_as_epochs:
            return None
        return tuple(sorted(e for e in self._stored_epochs() if e <= self.max_epochs))

    def _stored_epochs(self) -> set[int]:
        """Epoch counts with a searched value: ``source``'s stored epochs and ``search_source``'s schedule."""
        have = set(self.benchmark.epochs(self.search_on))
        if self.search_benchmark is not None:
            have.add(self._search_epochs)
        return have

    def expected_cost(self) -> float | None:
        """The mean cost of one full evaluation over the table's configurations (None: no times recorded)."""
        if self.cost_metric is None:
            return None
        if self.search_benchmark is not None and self.search_benchmark.has(self.search_on, self.cost_metric):
            return float(np.nanmean(self.search_benchmark.metric_array(self.search_on, self.cost_metric)))
        full = float(np.nanmean(self.benchmark.metric_array(self.search_on, self.cost_metric, self.epoch)))
        if self.search_benchmark is not None:  # charged its share of the full training time (see evaluate)
            return full * self._search_epochs / self.max_epochs
        return full

    def optimum(self) -> Optimum:
        """The best seed-mean search metric on ``search_on`` and report metric on ``report_on`` in the reported
        source (what regret is measured against)."""
        value, _ = self.benchmark.optimum(self.search_on, self.search_metric.name, self.epoch)
        test = None
        if self.reports_test:
            assert self.report_metric is not None
            test, _ = self.benchmark.optimum(self.report_on, self.report_metric.name, self.epoch)
        return Optimum(value=value, test=test, source=f"{self.benchmark.name}/{self.benchmark.source}")

    def provenance(self) -> dict[str, Any]:
        """Benchmark, source, the store root (absolute) and its format version, and the SHA-256 (from meta.json,
        checked when the table was read) of each table file used, per source and dataset."""
        tables = {self.benchmark.source: {d: self.benchmark.checksum(d)
                                          for d in dict.fromkeys((self.search_on, self.report_on))
                                          if d in self.benchmark.datasets}}
        if self.search_benchmark is not None:
            tables[self.search_benchmark.source] = {self.search_on: self.search_benchmark.checksum(self.search_on)}
        found: dict[str, Any] = {"benchmark": self.benchmark.name, "source": self.benchmark.source,
                                 "root": str(self.benchmark.root),
                                 "format_version": self.benchmark.meta.get("format_version"), "sha256": tables}
        if self.search_benchmark is not None and self.search_benchmark.root != self.benchmark.root:
            found["search_root"] = str(self.search_benchmark.root)
        return found
