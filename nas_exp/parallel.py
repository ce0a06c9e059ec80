"""Parallel evaluations inside one run (``parallel.n_workers`` > 1).

SMAC's own parallelism (``Scenario.n_workers``, a Dask runner) needs a target function and tells results in the
order they finish, so its parallel runs are not reproducible. Here the search loop keeps ask/tell: it asks
``n_workers`` trials, evaluates the new ones concurrently and tells the results in the order asked
(``run_search(batch_size=...)``), so a run depends on its seed and ``n_workers`` only. The price: a batch waits
for its slowest evaluation.

Backends: ``threads`` (a thread pool in the run's process; the evaluator is shared, fine for table lookups and
evaluators that release the GIL) and ``dask`` (dask.distributed: a local cluster of ``n_workers`` processes, or
the running scheduler at ``parallel.scheduler``, e.g. a dask-jobqueue SLURMCluster; the evaluator is pickled to
the workers once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.runner import EvaluateMany, EvaluationRequest, evaluate_request, evaluate_serially
from nas_exp.errors import UserError

BACKENDS = ("threads", "dask")


class ParallelConfigError(UserError):
    """A bad ``parallel`` setting."""


@dataclass(frozen=True)
class ParallelSettings:
    n_workers: int = 1
    backend: str = "threads"
    scheduler: str | None = None  # dask: address of a running scheduler; None: a local cluster
    simulate_workers: int | None = None  # K: K asynchronous workers in simulated time (nas_exp.simulated_workers)

    def __post_init__(self) -> None:
        if isinstance(self.n_workers, bool) or not isinstance(self.n_workers, int) or self.n_workers < 1:
            raise ParallelConfigError(f"parallel.n_workers must be an int >= 1, got {self.n_workers!r}")
        if self.simulate_workers is not None:
            k = self.simulate_workers
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ParallelConfigError(f"parallel.simulate_workers must be an int >= 1 (or null), got {k!r}")
            if self.n_workers != 1:
                raise ParallelConfigError("parallel.simulate_workers and parallel.n_workers > 1 exclude each other: "
                                          "simulated workers are for tables (seconds), n_workers for real "
                                          "evaluations; set one of them")
        if self.backend not in BACKENDS:
            raise ParallelConfigError(f"unknown parallel.backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if self.scheduler is not None and self.backend != "dask":
            raise ParallelConfigError("parallel.scheduler needs parallel.backend=dask")


def parallel_settings(node: Mapping[str, Any] | None) -> ParallelSettings:
    """The ``parallel`` config node (absent: one evaluation at a time)."""
    if node is None:
        return ParallelSettings()
    valid = ("n_workers", "backend", "scheduler", "simulate_workers")
    unknown = set(node) - set(valid)
    if unknown:
        raise ParallelConfigError(f"unknown parallel setting(s) {', '.join(sorted(unknown))}; "
                                  f"valid: {', '.join(valid)}")
    return ParallelSettings(**dict(node))


def _map_with(pool: Executor, evaluator: Evaluator, requests: Sequence[EvaluationRequest]) -> list[Evaluation]:
    return list(pool.map(partial(evaluate_request, evaluator), requests))  # results in request order


class DaskEvaluation:
    """``EvaluateMany`` on a dask.distributed client; the evaluator is sent to the workers once per run."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._sent: tuple[Evaluator, Any] | None = None

    def _on_workers(self, evaluator: Evaluator) -> Any:
        if self._sent is None or self._sent[0] is not evaluator:
            self._sent = (evaluator, self.client.scatter(evaluator, broadcast=True, hash=False))
        return self._sent[1]

    def __call__(self, evaluator: Evaluator, requests: Sequence[EvaluationRequest]) -> list[Evaluation]:
        if not requests:
            return []
        remote = self._on_workers(evaluator)
        futures = self.client.map(evaluate_request, [remote] * len(requests), list(requests), pure=False)
        return self.client.gather(futures)  # in request order; a worker's exception is raised here


@contextmanager
def quiet(logger_name: str, level: int = logging.WARNING) -> Iterator[None]:
    """Raise a library's log level for a while (Hydra's logging setup shows every INFO line otherwise)."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextmanager
def evaluation_pool(settings: ParallelSettings) -> Iterator[EvaluateMany]:
    """The ``evaluate_many`` for ``run_search``, with its workers started and, on exit, stopped."""
    if settings.n_workers == 1:
        yield evaluate_serially
    elif settings.backend == "threads":
        with ThreadPoolExecutor(settings.n_workers, thread_name_prefix="nas-exp-evaluate") as pool:
            yield partial(_map_with, pool)
    else:
        from dask.distributed import Client, LocalCluster

        with quiet("distributed"):
            if settings.scheduler is not None:
                with Client(settings.scheduler) as client:
                    yield DaskEvaluation(client)
            else:
                with LocalCluster(n_workers=settings.n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, Client(cluster) as client:
                    yield DaskEvaluation(client)
