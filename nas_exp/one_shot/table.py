"""Table numbers of discretized cells: the stand-alone accuracies of the searched space's tabular benchmark
(capability ``TABULAR``), whatever dataset the supernet trained on. Spaces without a table have none: their cells
are scored by stand-alone training (``optimizer.train_final``, ``retrain_top_k``) or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas_exp.one_shot.records import Cell
from nas_exp.search_spaces.base import SearchSpace

DEFAULT_TABLE_DATASET = "cifar10-valid"


@dataclass(frozen=True)
class CellTable:
    """``valid_dataset``: whose validation accuracy scores cells; ``test_dataset``: whose test accuracy is
    reported (None in the table where the source has none)."""

    space: SearchSpace
    benchmark: Any  # the space's TabularBenchmark
    valid_dataset: str
    test_dataset: str

    @classmethod
    def create(cls, space: SearchSpace, benchmark: Any, table_dataset: str | None, search_on: str,
               report_on: str) -> CellTable:
        """``benchmark``: the space's (``space.tabular_benchmark``). ``table_dataset`` if set; else the searched
        dataset when the table has it, else cifar10-valid, else the table's first dataset (a digits run reports
        what its cells get in the table). The test accuracy is ``report_on``'s when the table has it and ``table_dataset`` was not
        set, else ``table_dataset``'s."""
        available = benchmark.datasets
        if table_dataset is not None:
            valid = test = table_dataset
        else:
            fallback = DEFAULT_TABLE_DATASET if DEFAULT_TABLE_DATASET in available else available[0]
            valid = search_on if search_on in available else fallback
            test = report_on if report_on in available else valid
        for dataset in dict.fromkeys((valid, test)):
            benchmark.table(dataset)  # an unknown or absent dataset fails now, in one line
        return cls(space, benchmark, valid, test)

    def _query(self, arch: Cell, dataset: str) -> Any:
        return self.benchmark.query_index(self.space.table_index(arch), dataset, arch=self.space.key(arch))

    def valid_acc(self, arch: Cell) -> float | None:
        return self._query(arch, self.valid_dataset).get("valid_acc")

    def test_acc(self, arch: Cell) -> float | None:
        return self._query(arch, self.test_dataset).get("test_acc")

    def every_dataset(self, arch: Cell) -> dict[str, dict[str, float | None]]:
        """The cell's table accuracies on every dataset of the source (NB201 reports a CIFAR-10 search's cell on
        all three): {dataset: {"valid_acc": ..., "test_acc": ...}}, None where the source lacks one."""
        results = {dataset: self._query(arch, dataset) for dataset in self.benchmark.datasets}
        return {dataset: {"valid_acc": r.get("valid_acc"), "test_acc": r.get("test_acc")} for dataset, r in results.items()}
