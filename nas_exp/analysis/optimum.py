"""The best value the table holds, and the regret of an incumbent against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas_exp.benchmarks.nb201_tabular import NB201Benchmark


@dataclass(frozen=True)
class Optimum:
    """Best seed-mean accuracies [%] of the table: validation accuracy on the searched dataset, test accuracy on
    the reported one (None where the source has no test accuracy)."""

    valid_acc: float
    test_acc: float | None

    def regret(self, valid_acc: float | None, test_acc: float | None) -> dict[str, float]:
        """``regret_valid`` / ``regret_test`` in percentage points, each only where both values are known."""
        found = {}
        if valid_acc is not None:
            found["regret_valid"] = self.valid_acc - valid_acc
        if test_acc is not None and self.test_acc is not None:
            found["regret_test"] = self.test_acc - test_acc
        return found


def table_optimum(bench: NB201Benchmark, search_on: str, report_on: str, epoch: int | None = None) -> Optimum:
    valid = float(np.nanmax(bench.metric_array(search_on, "valid_acc", epoch)))
    test = None
    if bench.has(report_on, "test_acc"):
        test = float(np.nanmax(bench.metric_array(report_on, "test_acc", epoch)))
    return Optimum(valid_acc=valid, test_acc=test)


class Benchmarks:
    """NB201 benchmarks opened on demand, one per (source, root): an explicit cache passed where it is needed."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = root  # overrides the runs' own store root when given
        self._open: dict[tuple[str, str | None], NB201Benchmark] = {}

    def get(self, source: str, root: str | Path | None = None) -> NB201Benchmark:
        where = self.root if self.root is not None else root
        key = (source, None if where is None else str(where))
        if key not in self._open:
            self._open[key] = NB201Benchmark(source=source, root=where)
        return self._open[key]
