"""The search loop: optimizer proposes, space decodes, evaluator scores, budget decides when to stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.optimizers.base import Optimizer, Trial
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


def evaluation_rng(seed: int, n: int) -> np.random.Generator:
    """The random generator of the run's ``n``-th evaluation: independent of what was evaluated before, so a
    resumed run that replays earlier evaluations draws the same numbers for the later ones."""
    return np.random.default_rng([seed, n])


def trial_epochs(trial: Trial, evaluator: Evaluator) -> int | None:
    """The epochs a trial asks for: None (full training) or its budget rounded to whole epochs (SMAC's
    Hyperband hands out float budgets such as 22.2)."""
    if trial.budget is None:
        return None
    epochs = max(1, int(round(trial.budget)))
    return None if epochs >= evaluator.max_epochs else epochs


def charged_cost(evaluation: Evaluation, trained_before: Evaluation | None, resumes: bool) -> float:
    """What an evaluation costs the budget. An optimizer that resumes training (continues a cell from its last
    checkpoint) pays only for the epochs beyond what this cell already trained; any other pays in full."""
    if resumes and trained_before is not None:
        return max(0.0, evaluation.cost - trained_before.cost)
    return evaluation.cost


def run_search(
    space: NB201Space,
    optimizer: Optimizer,
    evaluator: Evaluator,
    budget: Budget,
    seed: int,
    on_row: Callable[[TrajectoryRow], None] = lambda row: None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Run until the budget stops it.

    A cell proposed again at the same fidelity is not re-evaluated: its first result is served from the run's
    cache, told to the optimizer again and charged again (as re-training it would be), so repeats count against
    both budgets and are marked ``repeat``. Multi-fidelity trials (``trial.budget`` = epochs) are charged the
    epochs they train (see ``charged_cost``). The incumbent is the best cell by the accuracy the optimizer sees,
    among evaluations of full training (``Evaluation.epochs is None``); it is reported by its full-training accuracies."""
    seen: dict[tuple[Arch, int | None, Any], Evaluation] = {}
    deepest: dict[tuple[Arch, Any], Evaluation] = {}  # the longest training of each cell (for resuming)
    hyperparameters_of = getattr(space, "hyperparameters", None)
    resumes = bool(getattr(optimizer, "resumes_training", False))
    rows: list[TrajectoryRow] = []
    simulated_time = 0.0
    best: tuple[float, Evaluation, Arch] | None = None
    start = clock()
    while not budget.exhausted(len(rows), simulated_time):
        trial = optimizer.ask()
        arch = space.from_config(trial.config)
        hyperparameters: Mapping[str, float] | None = hyperparameters_of(trial.config) if hyperparameters_of else None
        hp_key = None if hyperparameters is None else tuple(sorted(hyperparameters.items()))
        epochs = trial_epochs(trial, evaluator)
        key = (arch, epochs, hp_key)
        repeat = key in seen
        if repeat:
            evaluation = seen[key]
        else:
            evaluation = evaluator.evaluate(arch, evaluation_rng(seed, len(rows) + 1), epochs=epochs,
                                            hyperparameters=hyperparameters)
        before = deepest.get((arch, hp_key))
        cost = charged_cost(evaluation, before, resumes)
        if not budget.allows(len(rows), simulated_time, cost):
            return SearchResult(rows, "the next evaluation would overrun the simulated-time budget")
        seen[key] = evaluation
        if before is None or evaluation.cost > before.cost:
            deepest[(arch, hp_key)] = evaluation
        simulated_time += cost
        optimizer.tell(trial, loss=100.0 - evaluation.valid_acc, cost=cost)
        if evaluation.epochs is None and (best is None or evaluation.valid_acc > best[0]):  # full training only
            best = (evaluation.valid_acc, evaluation, arch)
        rows.append(TrajectoryRow(
            n=len(rows) + 1,
            arch=arch.to_str(),
            epochs=epochs,
            valid_acc=evaluation.valid_acc,
            test_acc=evaluation.test_acc,
            cost=cost,
            simulated_time=simulated_time,
            wall_time=clock() - start,
            incumbent_valid_acc=None if best is None else best[1].reported_valid_acc,
            incumbent_test_acc=None if best is None else best[1].test_acc,
            incumbent_arch=None if best is None else best[2].to_str(),
            repeat=repeat,
        ))
        on_row(rows[-1])
    return SearchResult(rows, "budget exhausted")
