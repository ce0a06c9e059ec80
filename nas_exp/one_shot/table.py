"""Table numbers of discretized cells: NB201's stand-alone accuracies, whatever dataset the supernet trained on."""

from __future__ import annotations

from dataclasses import dataclass

from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.search_spaces.nb201 import Arch

DEFAULT_TABLE_DATASET = "cifar10-valid"


@dataclass(frozen=True)
class CellTable:
    """``valid_dataset``: whose validation accuracy scores cells; ``test_dataset``: whose test accuracy is
    reported (None in the table where the source has none)."""

    benchmark: NB201Benchmark
    valid_dataset: str
    test_dataset: str

    @classmethod
    def create(cls, benchmark: NB201Benchmark, table_dataset: str | None, search_on: str,
               report_on: str) -> CellTable:
        """``table_dataset`` if set; else the searched dataset when the table has it, else cifar10-valid (a digits
        run reports what its cells get on NB201). The test accuracy is ``report_on``'s when the table has it and
        ``table_dataset`` was not set, else ``table_dataset``'s."""
        available = benchmark.datasets
        if table_dataset is not None:
            valid = test = table_dataset
        else:
            valid = search_on if search_on in available else DEFAULT_TABLE_DATASET
            test = report_on if report_on in available else valid
        for dataset in dict.fromkeys((valid, test)):
            benchmark.table(dataset)  # an unknown or absent dataset fails now, in one line
        return cls(benchmark, valid, test)

    def valid_acc(self, arch: Arch) -> float | None:
        return self.benchmark.query(arch, self.valid_dataset).get("valid_acc")

    def test_acc(self, arch: Arch) -> float | None:
        return self.benchmark.query(arch, self.test_dataset).get("test_acc")

    def every_dataset(self, arch: Arch) -> dict[str, dict[str, float | None]]:
        """The cell's table accuracies on every dataset of the source (NB201 reports a CIFAR-10 search's cell on
        all three): {dataset: {"valid_acc": ..., "test_acc": ...}}, None where the source lacks one."""
        results = {dataset: self.benchmark.query(arch, dataset) for dataset in self.benchmark.datasets}
        return {dataset: {"valid_acc": r.get("valid_acc"), "test_acc": r.get("test_acc")} for dataset, r in results.items()}
