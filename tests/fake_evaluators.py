"""Test-only evaluators (used through tests/conf with --config-dir and PYTHONPATH=tests): slow or crashing
versions of the tabular evaluator, to kill a run mid-way, isolate a crashing job, or time parallel workers."""

from __future__ import annotations

import time
from typing import Any

from nas_exp.evaluation.base import Evaluation
from nas_exp.evaluation.tabular import TabularEvaluator


class SimulatedCrash(RuntimeError):
    """Stands in for a crashed training (not a user error)."""


class SlowTabularEvaluator(TabularEvaluator):
    """Sleeps ``delay_s`` per evaluation; raises SimulatedCrash on evaluation number ``crash_at`` (1-based)."""

    def __init__(self, *args: Any, delay_s: float = 0.0, crash_at: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay_s, self.crash_at = delay_s, crash_at
        self.calls = 0

    def evaluate(self, arch, rng, epochs=None, hyperparameters=None) -> Evaluation:
        self.calls += 1
        if self.crash_at is not None and self.calls >= self.crash_at:
            raise SimulatedCrash(f"simulated crash in evaluation {self.calls}")
        time.sleep(self.delay_s)
        return super().evaluate(arch, rng, epochs=epochs, hyperparameters=hyperparameters)
