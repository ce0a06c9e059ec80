"""The search loop: optimizer proposes, space decodes, evaluator scores, objective judges, budget decides when
to stop. Nothing here knows which space or benchmark it runs on."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.objectives.base import Objective
from nas_exp.objectives.search_metric import SearchMetric
from nas_exp.optimizers.base import Optimizer, SpaceUsedUp, Trial
from nas_exp.search_spaces.base import SearchSpace
from nas_exp.trajectory import TrajectoryRow, hyperparameters_json


@dataclass(frozen=True)
class SearchResult:
    rows: list[TrajectoryRow]
    stop_reason: str
    evaluations: dict[str, Evaluation] = field(default_factory=dict)  # arch key -> its full training

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
    Hyperband hands out float budgets such as 22.2). An evaluator that ignores budgets answers every trial with a
    full training, so the trial is one (the trajectory says so, and a promoted configuration is a repeat)."""
    if trial.budget is None or evaluator.ignores_budgets:
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

    arch: Hashable
    key: str  # the space's key of ``arch``
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
    arch: Hashable
    arch_key: str  # the space's key of ``arch``
    epochs: int | None
    hyperparameters: Mapping[str, float] | None

    @property
    def key(self) -> tuple[str, int | None, Any]:
        hp_key = None if self.hyperparameters is None else tuple(sorted(self.hyperparameters.items()))
        return (self.arch_key, self.epochs, hp_key)


def full_trainings(seen: Mapping[tuple[str, int | None, Any], Evaluation]) -> dict[str, Evaluation]:
    """The first full training of each evaluated architecture, by key (what a Pareto front is built from)."""
    cells: dict[str, Evaluation] = {}
    for (arch_key, _, _), evaluation in seen.items():
        if evaluation.epochs is None:
            cells.setdefault(arch_key, evaluation)
    return cells


def batch_room(budget: Budget, n_done: int, batch_size: int) -> int:
    """How many trials to ask at once: ``batch_size``, but never more than the evaluations left."""
    if budget.max_evaluations is None:
        return batch_size
    return max(1, min(batch_size, budget.max_evaluations - n_done))


class SearchRecord:
    """What a search has seen so far, and the one way a result enters it: charged, told to the optimizer, made a
    trajectory row (``add``). Shared by the sequential/batched loop (``run_search``) and the simulated
    asynchronous workers (``nas_exp.simulated_workers``)."""

    def __init__(self, optimizer: Optimizer, objective: Objective, on_row: Callable[[TrajectoryRow], None],
                 clock: Callable[[], float]) -> None:
        self.optimizer, self.objective, self.on_row, self.clock = optimizer, objective, on_row, clock
        self.seen: dict[tuple[str, int | None, Any], Evaluation] = {}
        self.deepest: dict[tuple[str, Any], Evaluation] = {}  # the longest training of each architecture
        self.rows: list[TrajectoryRow] = []
        self.simulated_time = 0.0
        self.best: tuple[Evaluation, Proposal] | None = None
        self.start = clock()

    def cost_of(self, proposal: Proposal, evaluation: Evaluation) -> float:
        before = self.deepest.get((proposal.arch_key, proposal.key[2]))
        return charged_cost(evaluation, before, self.optimizer.resumes_training)

    def add(self, proposal: Proposal, evaluation: Evaluation, repeat: bool, cost: float,
            simulated_time: float) -> None:
        """Record one result at ``simulated_time`` (the summed cost when one trial runs at a time; the finish
        time on the simulated clock with simulated workers)."""
        trial, arch, epochs, key = proposal.trial, proposal.arch_key, proposal.epochs, proposal.key
        deepest_key = (arch, key[2])
        before = self.deepest.get(deepest_key)
        self.seen[key] = evaluation
        if before is None or evaluation.cost > before.cost:
            self.deepest[deepest_key] = evaluation
        self.simulated_time = simulated_time
        self.optimizer.tell(trial, loss=self.objective.loss(evaluation), cost=cost)
        best = self.best
        if evaluation.epochs is None and (best is None or self.objective.better(evaluation, best[0])):  # full only
            best = self.best = (evaluation, proposal)
        self.rows.append(TrajectoryRow(
            n=len(self.rows) + 1,
            arch=arch,
            epochs=epochs,
            value=evaluation.value,
            test=evaluation.test,
            cost=cost,
            simulated_time=simulated_time,
            wall_time=self.clock() - self.start,
            incumbent_value=None if best is None else best[0].reported_value,
            incumbent_test=None if best is None else best[0].test,
            incumbent_arch=None if best is None else best[1].arch_key,
            repeat=repeat,
            hyperparameters=hyperparameters_json(proposal.hyperparameters),
            incumbent_hyperparameters=None if best is None else hyperparameters_json(best[1].hyperparameters),
        ))
        self.on_row(self.rows[-1])

    def propose(self, space: SearchSpace, evaluator: Evaluator) -> Proposal:
        """Ask the optimizer for one trial and decode it."""
        trial = self.optimizer.ask()
        arch = space.from_config(trial.config)
        return Proposal(trial, arch, space.key(arch), trial_epochs(trial, evaluator),
                        space.hyperparameters(trial.config))


def run_search(
    space: SearchSpace,
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
    among evaluations of full training (``Evaluation.epochs is None``), as the objective orders them (by the
    search metric, in its direction); it is reported by its full-training values.

    ``batch_size`` > 1 (parallel evaluation): ask that many trials before telling any, evaluate the new ones with
    ``evaluate_many`` (e.g. concurrently), then handle the results in the order asked, exactly as one at a time.
    The trajectory depends on the seed and the batch size only, never on which evaluation finishes first. With
    a simulated-time budget, evaluations of the last batch past the budget are made but not counted.

    An optimizer that has no configuration left (``SpaceUsedUp``: SMAC's, on a space smaller than the budget)
    ends the search early, its message the stop reason; the trials it proposed before are evaluated and recorded.

    ``objective`` turns an evaluation into what the optimizer is told and orders incumbents (default
    ``SearchMetric`` of the evaluator's search metric; a multi-objective one returns a list of losses)."""
    objective = objective if objective is not None else SearchMetric(evaluator.search_metric)
    record = SearchRecord(optimizer, objective, on_row, clock)

    def handle(proposal: Proposal, evaluation: Evaluation, repeat: bool) -> str | None:
        """Charge, tell and record one asked trial; the stop reason if the budget stops the search first."""
        cost = record.cost_of(proposal, evaluation)
        if not budget.allows(len(record.rows), record.simulated_time, cost):
            return "the next evaluation would overrun the simulated-time budget"
        record.add(proposal, evaluation, repeat, cost, record.simulated_time + cost)
        return None

    seen, rows = record.seen, record.rows
    used_up: str | None = None  # the optimizer's SpaceUsedUp: evaluate what it proposed before it, then stop
    while not budget.exhausted(len(rows), record.simulated_time) and used_up is None:
        proposals = []
        for _ in range(batch_room(budget, len(rows), batch_size)):
            try:
                proposals.append(record.propose(space, evaluator))
            except SpaceUsedUp as err:
                used_up = str(err)
                break
        fresh: dict[tuple[str, int | None, Any], EvaluationRequest] = {}  # first asks of unseen keys, in order
        for i, proposal in enumerate(proposals):
            if proposal.key not in seen and proposal.key not in fresh:
                fresh[proposal.key] = EvaluationRequest(proposal.arch, proposal.arch_key, seed, len(rows) + 1 + i,
                                                        proposal.epochs, proposal.hyperparameters)
        evaluated = dict(zip(fresh, evaluate_many(evaluator, list(fresh.values())), strict=True))
        for proposal in proposals:
            repeat = proposal.key in seen
            stop = handle(proposal, seen[proposal.key] if repeat else evaluated[proposal.key], repeat)
            if stop:
                return SearchResult(rows, stop, full_trainings(seen))
    if used_up is not None and not budget.exhausted(len(rows), record.simulated_time):
        return SearchResult(rows, used_up, full_trainings(seen))
    return SearchResult(rows, "budget exhausted", full_trainings(seen))
