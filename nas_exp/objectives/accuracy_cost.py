"""Two objectives: validation error and a cost of the cell from the table (params, FLOPs or latency), both
minimised. The run's result is the Pareto front of the evaluated cells."""

from __future__ import annotations

from collections.abc import Iterable

from nas_exp.data.store import CELL_METRICS
from nas_exp.evaluation.base import Evaluation

COST_METRICS = CELL_METRICS  # the table's per-cell figures


def pareto_front(points: Iterable[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """The (name, accuracy, cost) points no other point dominates (higher accuracy and lower cost), sorted by
    cost; ties on both keep the first seen."""
    front: list[tuple[str, float, float]] = []
    best_acc = float("-inf")
    for name, acc, cost in sorted(points, key=lambda p: (p[2], -p[1])):
        if acc > best_acc:
            front.append((name, acc, cost))
            best_acc = acc
    return front


class AccuracyAndCost:
    def __init__(self, metric: str = "params") -> None:
        if metric not in COST_METRICS:
            raise ValueError(f"unknown objective.metric {metric!r}; valid: {', '.join(COST_METRICS)}")
        self.metric = metric
        self.names: tuple[str, ...] = ("error", metric)

    def cost_of(self, evaluation: Evaluation) -> float:
        if self.metric not in evaluation.metrics:
            raise ValueError(f"the evaluation reports no {self.metric!r} (it has "
                             f"{', '.join(evaluation.metrics) or 'none'}); pick objective.metric among those")
        return float(evaluation.metrics[self.metric])

    def loss(self, evaluation: Evaluation) -> list[float]:
        return [100.0 - evaluation.valid_acc, self.cost_of(evaluation)]

    def front(self, evaluated: dict[str, Evaluation]) -> list[dict[str, float | str]]:
        """The Pareto front of the evaluated cells (full trainings), as result.json records."""
        points = [(arch, e.reported_valid_acc, self.cost_of(e)) for arch, e in evaluated.items() if e.epochs is None]
        return [{"arch": arch, "valid_acc": acc, self.metric: cost} for arch, acc, cost in pareto_front(points)]
