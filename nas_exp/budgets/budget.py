"""Search budgets: a number of evaluations and/or simulated wall-clock seconds."""

from __future__ import annotations

from dataclasses import dataclass

from nas_exp.errors import UserError


@dataclass(frozen=True)
class Budget:
    """Stop after ``max_evaluations`` evaluations or once the evaluations' summed cost would pass
    ``max_simulated_seconds``, whichever comes first. An evaluation that would overrun the time budget is not
    counted: the search never spends more than its budget."""

    max_evaluations: int | None = None
    max_simulated_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_evaluations is None and self.max_simulated_seconds is None:
            raise UserError("the budget is unbounded: set budget.max_evaluations and/or "
                             "budget.max_simulated_seconds")
        if self.max_evaluations is not None and (
            isinstance(self.max_evaluations, bool) or not isinstance(self.max_evaluations, int)
            or self.max_evaluations <= 0
        ):
            raise UserError(f"budget.max_evaluations must be a positive int, got {self.max_evaluations!r}")
        if self.max_simulated_seconds is not None and (
            isinstance(self.max_simulated_seconds, bool)
            or not isinstance(self.max_simulated_seconds, (int, float)) or not self.max_simulated_seconds > 0
        ):
            raise UserError(f"budget.max_simulated_seconds must be a positive number, got "
                             f"{self.max_simulated_seconds!r}")

    def allows(self, n_done: int, simulated_time: float, next_cost: float) -> bool:
        """Whether one more evaluation costing ``next_cost`` fits."""
        if self.max_evaluations is not None and n_done >= self.max_evaluations:
            return False
        if self.max_simulated_seconds is not None and simulated_time + next_cost > self.max_simulated_seconds:
            return False
        return True

    def exhausted(self, n_done: int, simulated_time: float) -> bool:
        return not self.allows(n_done, simulated_time, 0.0)

    def fraction_used(self, n_done: int, simulated_time: float) -> float:
        parts = []
        if self.max_evaluations is not None:
            parts.append(n_done / self.max_evaluations)
        if self.max_simulated_seconds is not None:
            parts.append(simulated_time / self.max_simulated_seconds)
        return min(1.0, max(parts))
