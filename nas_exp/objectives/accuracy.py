"""The default objective: minimise the validation error (100 - accuracy, in points)."""

from __future__ import annotations

from nas_exp.evaluation.base import Evaluation


class Accuracy:
    names: tuple[str, ...] = ("error",)

    def loss(self, evaluation: Evaluation) -> float:
        return 100.0 - evaluation.valid_acc
