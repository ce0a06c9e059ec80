"""The metrics of a run as result.json records them (``metrics``): search and report metric, the trajectory's
column names and the table's optimum, so loggers and analysis work on any space without opening its benchmark.
Runs written before this record existed are NB201 runs and read with NB201's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas_exp.benchmarks.base import Metric
from nas_exp.trajectory import Columns

LEGACY_DEFAULT: dict[str, Any] = {
    "search": Metric.percent("valid_acc").to_dict(),
    "report": Metric.percent("test_acc").to_dict(),
    "columns": {"search": "valid_acc", "report": "test_acc"},
    "optimum": None,
}


@dataclass(frozen=True)
class RunMetrics:
    search: Metric
    report: Metric | None
    columns: Columns
    optimum_value: float | None
    optimum_test: float | None
    optimum_source: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> RunMetrics:
        record = record or LEGACY_DEFAULT
        optimum = record.get("optimum") or {}
        columns = record.get("columns") or LEGACY_DEFAULT["columns"]
        report = record.get("report")
        return cls(search=Metric.from_dict(record["search"]), report=None if report is None else Metric.from_dict(report),
                   columns=Columns(columns["search"], columns["report"]), optimum_value=optimum.get("value"),
                   optimum_test=optimum.get("test"), optimum_source=optimum.get("source"))

    @property
    def incumbent_column(self) -> str:
        return f"incumbent_{self.columns.search}"

    @property
    def incumbent_test_column(self) -> str:
        return f"incumbent_{self.columns.report}"

    @property
    def report_metric(self) -> Metric:
        """The report metric, or the search metric's direction under the report column's name."""
        if self.report is not None:
            return self.report
        return Metric(self.columns.report, self.search.direction, self.search.unit, self.search.bound,
                      self.search.log_scale)

    def regret(self, value: float | None, test: float | None) -> dict[str, float]:
        """``regret_valid`` (search metric) / ``regret_test`` (report metric) in the metrics' units, each only
        where the value and the optimum are known; >= 0 in either direction."""
        found = {}
        if value is not None and self.optimum_value is not None:
            found["regret_valid"] = self.search.regret(self.optimum_value, value)
        if test is not None and self.optimum_test is not None:
            found["regret_test"] = self.report_metric.regret(self.optimum_test, test)
        return found
