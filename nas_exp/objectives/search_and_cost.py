"""Two objectives: the loss of the search metric (e.g. validation error) and a cost of the architecture from the
evaluator (params, FLOPs, latency, model size), both minimised. The run's result is the Pareto front of the
evaluated architectures."""

from __future__ import annotations

from collections.abc import Iterable

from nas_exp.benchmarks.base import Metric
from nas_exp.errors import UserError
from nas_exp.evaluation.base import Evaluation
from nas_exp.objectives.base import loss_name


def pareto_front(points: Iterable[tuple[str, float, float]], maximize: bool = True) -> list[tuple[str, float, float]]:
    """The (name, value, cost) points no other point dominates (a better value and a lower cost), sorted by
    cost; ties on both keep the first seen. ``maximize``: whether a larger value is better."""
    sign = 1.0 if maximize else -1.0
    front: list[tuple[str, float, float]] = []
    best = float("-inf")
    for name, value, cost in sorted(points, key=lambda p: (p[2], -sign * p[1])):
        if sign * value > best:
            front.append((name, value, cost))
            best = sign * value
    return front


class SearchAndCost:
    multi_objective = True

    def __init__(self, metric: Metric, cost: str = "params") -> None:
        if not isinstance(cost, str) or not cost:
            raise UserError(f"objective.cost must be a metric name such as params, got {cost!r}")
        self.metric = metric
        self.cost = cost
        self.names: tuple[str, ...] = (loss_name(metric), cost)

    def cost_of(self, evaluation: Evaluation) -> float:
        if self.cost not in evaluation.metrics:
            raise UserError(f"the evaluation reports no {self.cost!r} (it has "
                             f"{', '.join(evaluation.metrics) or 'none'}); pick objective.cost among those")
        return float(evaluation.metrics[self.cost])

    def loss(self, evaluation: Evaluation) -> list[float]:
        return [self.metric.loss(evaluation.value), self.cost_of(evaluation)]

    def better(self, evaluation: Evaluation, than: Evaluation) -> bool:
        return self.metric.better(evaluation.value, than.value)

    def front(self, evaluated: dict[str, Evaluation]) -> list[dict[str, float | str]]:
        """The Pareto front of the evaluated architectures (full trainings), as result.json records."""
        points = [(arch, e.reported_value, self.cost_of(e)) for arch, e in evaluated.items() if e.epochs is None]
        return [{"arch": arch, self.metric.name: value, self.cost: cost}
                for arch, value, cost in pareto_front(points, self.metric.maximize)]
