"""What a table query returns, whatever the benchmark: metric values by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nas_exp.errors import UserError


class MetricUnavailableError(UserError):
    """A metric (or epoch) the data source does not hold."""


@dataclass(frozen=True)
class QueryResult:
    """Results of one configuration (row ``index``) on one dataset at one fidelity (``epoch``), for one training
    run (``seed``) or the mean over runs (``seed=None``). ``values``: every metric the source stores for it, by
    name (None where the source has no value for this configuration). ``arch`` is the configuration's key when
    the caller knows it."""

    index: int
    dataset: str
    epoch: int
    seed: int | None
    source: str
    values: Mapping[str, float | None] = field(default_factory=dict)
    arch: str | None = None
    benchmark: str = ""
    sources_with: Any = field(default=None, repr=False, compare=False)  # metric -> sources that have it

    def get(self, metric: str) -> float | None:
        """The value of ``metric`` (None where absent)."""
        return self.values.get(metric)

    def require(self, metric: str) -> float:
        """The value of ``metric``, or MetricUnavailableError naming the sources that have it."""
        value = self.values.get(metric)
        if value is None:
            have = ", ".join(self.sources_with(metric, self.dataset)) if self.sources_with else ""
            raise MetricUnavailableError(
                f"source {self.source!r} has no {metric} for {self.dataset}; sources with it: {have or 'none'}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "index": self.index, "dataset": self.dataset, "epoch": self.epoch,
                "seed": self.seed, "source": self.source, **self.values}
