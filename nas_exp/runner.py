"""The search loop: optimizer proposes, space decodes, evaluator scores, budget decides when to stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.optimizers.base import Optimizer
from nas_exp.search_spaces.nb201 import Arch, NB201Space
from nas_exp.trajectory import TrajectoryRow


@dataclass(frozen=True)
class SearchResult:
    rows: list[TrajectoryRow]
    stop_reason: str

    @property
    def incumbent(self) -> TrajectoryRow | None:
        return self.rows[-1] if self.rows else None

    @property
    def n_repeats(self) -> int:
        return sum(row.repeat for row in self.rows)


def run_search(
    space: NB201Space,
    optimizer: Optimizer,
    evaluator: Evaluator,
    budget: Budget,
    rng: np.random.Generator,
    on_row: Callable[[TrajectoryRow], None] = lambda row: None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Run until the budget stops it. A cell proposed again is not re-evaluated: its first result is served from
    the run's cache, told to the optimizer again and charged again (as re-training it would be), so repeats
    count against both budgets and are marked ``repeat`` in the trajectory."""
    seen: dict[Arch, Evaluation] = {}
    rows: list[TrajectoryRow] = []
    simulated_time = 0.0
    best: tuple[float, Evaluation, Arch] | None = None
    start = clock()
    while not budget.exhausted(len(rows), simulated_time):
        trial = optimizer.ask()
        arch = space.from_config(trial.config)
        repeat = arch in seen
        evaluation = seen[arch] if repeat else evaluator.evaluate(arch, rng)
        if not budget.allows(len(rows), simulated_time, evaluation.cost):
            return SearchResult(rows, "the next evaluation would overrun the simulated-time budget")
        seen[arch] = evaluation
        simulated_time += evaluation.cost
        optimizer.tell(trial, loss=100.0 - evaluation.valid_acc, cost=evaluation.cost)
        if best is None or evaluation.valid_acc > best[0]:
            best = (evaluation.valid_acc, evaluation, arch)
        row = TrajectoryRow(
            n=len(rows) + 1,
            arch=arch.to_str(),
            valid_acc=evaluation.valid_acc,
            test_acc=evaluation.test_acc,
            cost=evaluation.cost,
            simulated_time=simulated_time,
            wall_time=clock() - start,
            incumbent_valid_acc=best[0],
            incumbent_test_acc=best[1].test_acc,
            incumbent_arch=best[2].to_str(),
            repeat=repeat,
        )
        rows.append(row)
        on_row(row)
    return SearchResult(rows, "budget exhausted")
