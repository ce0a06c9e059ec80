"""The default objective: minimise the loss of the evaluator's search metric (``100 - accuracy`` for an
accuracy in %, the value itself for an error such as MSE)."""

from __future__ import annotations

from nas_exp.benchmarks.base import Metric
from nas_exp.evaluation.base import Evaluation
from nas_exp.objectives.base import loss_name


class SearchMetric:
    multi_objective = False

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.names: tuple[str, ...] = (loss_name(metric),)

    def loss(self, evaluation: Evaluation) -> float:
        return self.metric.loss(evaluation.value)

    def better(self, evaluation: Evaluation, than: Evaluation) -> bool:
        return self.metric.better(evaluation.value, than.value)
