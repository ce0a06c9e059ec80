"""Asynchronous workers in simulated time (``parallel.simulate_workers=K``), the way parallel NAS methods are
compared on tabular benchmarks.

K workers share one simulated clock. A free worker asks the optimizer for a trial; the table answers at once,
and the worker is busy until ``start + cost`` (the training time the table records). Results are told to the
optimizer in order of their simulated finish time (ties: the one started first), and each finish frees its worker,
which asks again at that time. So "8 workers for 24 hours" runs in seconds, deterministically: nothing here
depends on real time or thread scheduling. The trajectory's rows are in finish order and its ``simulated_time`` is
the simulated wall clock at each finish (with one worker, the summed cost, as in a sequential run).

Budgets: ``max_evaluations`` caps the trials started (all of them finish and are recorded); with
``max_simulated_seconds`` no trial starts at or after the limit, and a trial that would finish after it is not
recorded (the search stops at the first such finish). A configuration asked again while known (finished, or
started by another worker, whose result the table already gives) is a repeat: served from the run's cache, charged
again and marked ``repeat``, as in sequential runs. An optimizer with no configuration left (``SpaceUsedUp``) lets
the running trials finish and starts none; its message is the stop reason.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.objectives.base import Objective
from nas_exp.objectives.search_metric import SearchMetric
from nas_exp.optimizers.base import Optimizer, SpaceUsedUp
from nas_exp.runner import (EvaluateMany, EvaluationRequest, Proposal, SearchRecord, SearchResult,
                            evaluate_serially, full_trainings)
from nas_exp.search_spaces.base import SearchSpace
from nas_exp.trajectory import TrajectoryRow

OVER_TIME = "the next evaluation would finish after the simulated-time budget"


@dataclass(order=True)
class Running:
    """A trial on a worker: ordered by finish time, then by start order (``started``)."""

    finish: float
    started: int
    worker: int = field(compare=False)
    proposal: Proposal = field(compare=False)
    evaluation: Evaluation = field(compare=False)
    cost: float = field(compare=False)
    repeat: bool = field(compare=False)


def run_simulated_workers(
    space: SearchSpace,
    optimizer: Optimizer,
    evaluator: Evaluator,
    budget: Budget,
    seed: int,
    n_workers: int,
    on_row: Callable[[TrajectoryRow], None] = lambda row: None,
    clock: Callable[[], float] = time.perf_counter,
    evaluate_many: EvaluateMany = evaluate_serially,
    objective: Objective | None = None,
) -> SearchResult:
    """Run ``n_workers`` simulated asynchronous workers until the budget stops them (see the module text)."""
    objective = objective if objective is not None else SearchMetric(evaluator.search_metric)
    record = SearchRecord(optimizer, objective, on_row, clock)
    known: dict[tuple, Evaluation] = {}  # every key evaluated so far, finished or still running
    running: list[Running] = []
    n_started = 0
    used_up: str | None = None  # the optimizer has no configuration left: running trials finish, none starts

    def may_start(at: float) -> bool:
        if used_up is not None:
            return False
        if budget.max_evaluations is not None and n_started >= budget.max_evaluations:
            return False
        return budget.max_simulated_seconds is None or at < budget.max_simulated_seconds

    def start(worker: int, at: float) -> None:
        nonlocal n_started, used_up
        try:
            proposal = record.propose(space, evaluator)
        except SpaceUsedUp as err:
            used_up = str(err)
            return
        n_started += 1
        repeat = proposal.key in known
        if not repeat:
            request = EvaluationRequest(proposal.arch, proposal.arch_key, seed, n_started, proposal.epochs,
                                        proposal.hyperparameters)
            known[proposal.key] = evaluate_many(evaluator, [request])[0]
        evaluation = known[proposal.key]
        cost = record.cost_of(proposal, evaluation)
        heapq.heappush(running, Running(at + cost, n_started, worker, proposal, evaluation, cost, repeat))

    for worker in range(n_workers):
        if may_start(0.0):
            start(worker, 0.0)
    while running:
        done = heapq.heappop(running)
        if budget.max_simulated_seconds is not None and done.finish > budget.max_simulated_seconds:
            return SearchResult(record.rows, OVER_TIME, full_trainings(record.seen))
        record.add(done.proposal, done.evaluation, done.repeat, done.cost, done.finish)
        if may_start(done.finish):
            start(done.worker, done.finish)
    return SearchResult(record.rows, used_up or "budget exhausted", full_trainings(record.seen))
