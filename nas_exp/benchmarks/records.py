"""The record every evaluation returns, whether looked up in a table or measured by training."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

METRIC_FIELDS: tuple[str, ...] = (
    "train_acc", "train_loss", "valid_acc", "valid_loss", "test_acc", "test_loss",
    "train_time", "params", "flops", "latency",
)


class MetricUnavailableError(ValueError):
    """A metric (or epoch) the data source does not hold."""


def missing_metric(source: str, metric: str, dataset: str, context: str = "") -> MetricUnavailableError:
    """The error for ``metric`` of ``dataset`` absent from ``source``, naming the sources that have it."""
    from nas_exp.data.sources import sources_with

    return MetricUnavailableError(
        f"source {source!r} has no {metric} for {dataset}{context}; sources with it: "
        f"{', '.join(sources_with(metric, dataset)) or 'none'}"
    )


@dataclass(frozen=True)
class QueryResult:
    """Results of one cell on one dataset at one epoch. Accuracies in %, train_time in seconds for ``epoch``
    epochs, params/flops in millions, latency in seconds. A metric the source lacks is None."""

    arch: str
    index: int
    dataset: str
    epoch: int
    seed: int | None  # None: mean over the cell's seeds
    source: str
    train_acc: float | None = None
    train_loss: float | None = None
    valid_acc: float | None = None
    valid_loss: float | None = None
    test_acc: float | None = None
    test_loss: float | None = None
    train_time: float | None = None
    params: float | None = None
    flops: float | None = None
    latency: float | None = None

    def require(self, metric: str) -> float:
        """The value of ``metric``, or MetricUnavailableError naming the sources that have it."""
        if metric not in METRIC_FIELDS:
            raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRIC_FIELDS)}")
        value = getattr(self, metric)
        if value is None:
            raise missing_metric(self.source, metric, self.dataset)
        return value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

