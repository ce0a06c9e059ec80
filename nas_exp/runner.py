"""The search loop: optimizer proposes, space decodes, evaluator scores, budget decides when to stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.objectives.accuracy import Accuracy
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.search_spaces.nb201 import Arch, NB201Space
from nas_exp.trajectory import TrajectoryRow, hyperparameters_json


@dataclass(frozen=True)
class SearchResult:
    rows: list[TrajectoryRow]
    stop_reason: str
    evaluations: dict[str, Evaluation] = field(default_factory=dict)  # arch string -> its full training

    @property
    def incumbent(self) -> TrajectoryRow | None:
        return self.rows[-1] if self.rows else None

    @property
    def n_repeats(self) -> int:
        return sum(row.repeat for row in self.rows)


class Objective(Protocol):
    names: tuple[str, ...]

    def loss(self, evaluation: Evaluation) -> float | list[float]: ...


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


@dataclass(frozen=True)
class EvaluationRequest:
    """One evaluation to make, self-contained (it travels to worker threads or processes)."""

    arch: Arch
    seed: int  # the run's seed
    n: int  # the evaluation's 1-based position in the run; with ``seed`` it derives the random generator
    epochs: int | None = None
    hyperparameters: Mapping[str, float] | None = None


def evaluate_request(evaluator: Evaluator, request: EvaluationRequest) -> Evaluation:
    return evaluator.evaluate(request.arch, evaluation_rng(request.seed, request.n), epochs=request.epochs,
                              hyperparameters=request.hyperparameters)


EvaluateMany = Callable[[Evaluator, Sequence[EvaluationRequest]], list[Evaluation]]


def evaluate_serially(evaluator: Evaluator, requests: Sequence[EvaluationRequest]) -> list[Evaluation]:
    """The default ``EvaluateMany``: one after another, in order (``nas_exp.parallel`` has concurrent ones)."""
    return [evaluate_request(evaluator, request) for request in requests]


@dataclass(frozen=True)
class Proposal:
    """A trial asked from the optimizer, decoded: what to evaluate and its cache key."""

    trial: Trial
    arch: Arch
    epochs: int | None
    hyperparameters: Mapping[str, float] | None

    @property
    def key(self) -> tuple[Arch, int | None, Any]:
        hp_key = None if self.hyperparameters is None else tuple(sorted(self.hyperparameters.items()))
        return (self.arch, self.epochs, hp_key)


def full_trainings(seen: Mapping[tuple[Arch, int | None, Any], Evaluation]) -> dict[str, Evaluation]:
    """The first full training of each evaluated cell, by arch string (what a Pareto front is built from)."""
    cells: dict[str, Evaluation] = {}
    for (arch, _, _), evaluation in seen.items():
        if evaluation.epochs is None:
            cells.setdefault(arch.to_str(), evaluation)
    return cells


def batch_room(budget: Budget, n_done: int, batch_size: int) -> int:
    """How many trials to ask at once: ``batch_size``, but never more than the evaluations left."""
    if budget.max_evaluations is None:
        return batch_size
    return max(1, min(batch_size, budget.max_evaluations - n_done))


def run_search(
    space: NB201Space,
    optimizer: Optimizer,
    evaluator: Evaluator,
    budget: Budget,
    seed: int,
    on_row: Callable[[TrajectoryRow], None] = lambda row: None,
    clock: Callable[[], float] = time.perf_counter,
    batch_size: int = 1,
    evaluate_many: EvaluateMany = evaluate_serially,
    objective: Objective | None = None,
) -> SearchResult:
    """Run until the budget stops it.

    A cell proposed again at the same fidelity is not re-evaluated: its first result is served from the run's
    cache, told to the optimizer again and charged again (as re-training it would be), so repeats count against
    both budgets and are marked ``repeat``. Multi-fidelity trials (``trial.budget`` = epochs) are charged the
    epochs they train (see ``charged_cost``). The incumbent is the best cell by the accuracy the optimizer sees,
    among evaluations of full training (``Evaluation.epochs is None``); it is reported by its full-training accuracies.

    ``batch_size`` > 1 (parallel evaluation): ask that many trials before telling any, evaluate the new ones with
    ``evaluate_many`` (e.g. concurrently), then handle the results in the order asked, exactly as one at a time.
    The trajectory depends on the seed and the batch size only, never on which evaluation finishes first. With
    a simulated-time budget, evaluations of the last batch past the budget are made but not counted.

    ``objective`` turns an evaluation into what the optimizer is told (default ``Accuracy``: the validation
    error; a multi-objective one returns a list of losses)."""
    objective = objective if objective is not None else Accuracy()
    seen: dict[tuple[Arch, int | None, Any], Evaluation] = {}
    deepest: dict[tuple[Arch, Any], Evaluation] = {}  # the longest training of each cell (for resuming)
    hyperparameters_of = getattr(space, "hyperparameters", None)
    resumes = bool(getattr(optimizer, "resumes_training", False))
    rows: list[TrajectoryRow] = []
    simulated_time = 0.0
    best: tuple[float, Evaluation, Proposal] | None = None
    start = clock()

    def handle(proposal: Proposal, evaluation: Evaluation, repeat: bool) -> str | None:
        """Charge, tell and record one asked trial; the stop reason if the budget stops the search first."""
        nonlocal simulated_time, best
        trial, arch, epochs, key = proposal.trial, proposal.arch, proposal.epochs, proposal.key
        hp_key = key[2]
        before = deepest.get((arch, hp_key))
        cost = charged_cost(evaluation, before, resumes)
        if not budget.allows(len(rows), simulated_time, cost):
            return "the next evaluation would overrun the simulated-time budget"
        seen[key] = evaluation
        if before is None or evaluation.cost > before.cost:
            deepest[(arch, hp_key)] = evaluation
        simulated_time += cost
        optimizer.tell(trial, loss=objective.loss(evaluation), cost=cost)
        if evaluation.epochs is None and (best is None or evaluation.valid_acc > best[0]):  # full training only
            best = (evaluation.valid_acc, evaluation, proposal)
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
            incumbent_arch=None if best is None else best[2].arch.to_str(),
            repeat=repeat,
            hyperparameters=hyperparameters_json(proposal.hyperparameters),
            incumbent_hyperparameters=None if best is None else hyperparameters_json(best[2].hyperparameters),
        ))
        on_row(rows[-1])
        return None

    while not budget.exhausted(len(rows), simulated_time):
        proposals = []
        for _ in range(batch_room(budget, len(rows), batch_size)):
            trial = optimizer.ask()
            proposals.append(Proposal(trial, space.from_config(trial.config), trial_epochs(trial, evaluator),
                                      hyperparameters_of(trial.config) if hyperparameters_of else None))
        fresh: dict[tuple[Arch, int | None, Any], EvaluationRequest] = {}  # first asks of unseen keys, in order
        for i, proposal in enumerate(proposals):
            if proposal.key not in seen and proposal.key not in fresh:
                fresh[proposal.key] = EvaluationRequest(proposal.arch, seed, len(rows) + 1 + i, proposal.epochs,
                                                        proposal.hyperparameters)
        evaluated = dict(zip(fresh, evaluate_many(evaluator, list(fresh.values())), strict=True))
        for proposal in proposals:
            repeat = proposal.key in seen
            stop = handle(proposal, seen[proposal.key] if repeat else evaluated[proposal.key], repeat)
            if stop:
                return SearchResult(rows, stop, full_trainings(seen))
    return SearchResult(rows, "budget exhausted", full_trainings(seen))
