"""What an objective is: it turns an evaluation into the loss an optimizer minimises, and decides which
evaluation is the incumbent (by the evaluator's search metric, in that metric's own direction)."""

from __future__ import annotations

from typing import Protocol

from nas_exp.benchmarks.base import Metric
from nas_exp.evaluation.base import Evaluation


def loss_name(metric: Metric) -> str:
    """What the optimizer's objective is called: ``error`` for an accuracy-like metric, else the metric's name."""
    return "error" if metric.maximize and metric.bound is not None else metric.name


class Objective(Protocol):
    names: tuple[str, ...]  # one per loss an optimizer is told
    metric: Metric  # the search metric: the incumbent is the best evaluation by it
    multi_objective: bool  # several losses; the run's result gets a Pareto front

    def loss(self, evaluation: Evaluation) -> float | list[float]: ...

    def better(self, evaluation: Evaluation, than: Evaluation) -> bool: ...
