"""Parallel evaluations inside one run (``parallel.n_workers`` > 1).

SMAC's own parallelism (``Scenario.n_workers``, a Dask runner) needs a target function and tells results in the
order they finish, so its parallel runs are not reproducible. Here the search loop keeps ask/tell: it asks
``n_workers`` trials, evaluates the new ones concurrently and tells the results in the order asked
(``run_search(batch_size=...)``), so a run depends on its seed and ``n_workers`` only. The price: a batch waits
for its slowest evaluation.

Backends: ``threads`` (a thread pool in the run's process; the evaluator is shared, fine for table lookups and
evaluators that release the GIL) and ``dask`` (dask.distributed; the evaluator is pickled to the workers once).
Where the dask workers run (``parallel.cluster``): ``local``, a local cluster of ``n_workers`` processes (or the
running scheduler at ``parallel.scheduler``); ``slurm``, ``n_workers`` SLURM jobs of one worker each, started
through dask-jobqueue's ``SLURMCluster`` with the job settings of ``parallel.slurm`` and stopped when the run ends.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.runner import EvaluateMany, EvaluationRequest, evaluate_request, evaluate_serially
from nas_exp.errors import UserError
from nas_exp.trajectory import write_json_atomic

BACKENDS = ("threads", "dask")
CLUSTERS = ("local", "slurm")
WALLTIME = re.compile(r"^(\d+-)?\d+(:\d\d){0,2}$")  # SLURM's --time: MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]
MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:[kKmMgGtT]i?)[bB]$")
WORKER_JOB_NAME = "nas-exp-worker"


class ParallelConfigError(UserError):
    """A bad ``parallel`` setting."""


class WorkerStartError(UserError):
    """The SLURM jobs of the dask workers did not all start in time."""


def _positive(name: str, value: Any, kind: type | tuple[type, ...] = int) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ParallelConfigError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class SlurmWorkers:
    """The SLURM job of each dask worker (``parallel.slurm``): one worker process per job."""

    cores: int = 1                  # CPUs booked per job (the worker runs one evaluation at a time)
    memory: str = "4GB"             # memory per job, e.g. 500MB, 16GB
    walltime: str = "01:00:00"      # per job; the workers live as long as the run
    queue: str | None = None        # partition; None: the cluster's default
    interface: str | None = None    # network interface the scheduler and workers use, e.g. ib0; None: the default
    job_extra: tuple[str, ...] = ()  # more sbatch options, e.g. ("--gpus-per-task=1", "--account=nas")
    start_timeout_s: float = 600.0  # how long to wait for all workers (queueing included)

    def __post_init__(self) -> None:
        _positive("parallel.slurm.cores", self.cores)
        _positive("parallel.slurm.start_timeout_s", self.start_timeout_s, (int, float))
        if not isinstance(self.memory, str) or not _is_memory(self.memory):
            raise ParallelConfigError(f"parallel.slurm.memory must be an amount like 4GB or 500MB, got "
                                      f"{self.memory!r}")
        if not isinstance(self.walltime, str) or not WALLTIME.match(self.walltime):
            raise ParallelConfigError(f"parallel.slurm.walltime must be a SLURM time like 01:00:00 or 2-00:00:00, "
                                      f"got {self.walltime!r}")
        for name in ("queue", "interface"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ParallelConfigError(f"parallel.slurm.{name} must be a name or null, got {value!r}")
        if isinstance(self.job_extra, str) or not all(isinstance(o, str) and o.startswith("-")
                                                      for o in self.job_extra):
            raise ParallelConfigError(f"parallel.slurm.job_extra must be a list of sbatch options like "
                                      f"[--gpus-per-task=1], got {self.job_extra!r}")


def _is_memory(text: str) -> bool:
    """An amount dask-jobqueue and sbatch both read: a positive number with a unit (500MB, 4GB, 1.5TiB)."""
    match = MEMORY.match(text.strip())
    return bool(match) and float(match.group(1)) > 0


def known_settings(node: Mapping[str, Any], settings: type, path: str) -> dict[str, Any]:
    """``node`` as a dict, refused in one line if it has a key that is not a field of the ``settings`` dataclass."""
    valid = [f.name for f in fields(settings)]
    unknown = set(node) - set(valid)
    if unknown:
        raise ParallelConfigError(f"unknown {path} setting(s) {', '.join(sorted(unknown))}; "
                                  f"valid: {', '.join(valid)}")
    return dict(node)


def slurm_workers(node: Mapping[str, Any] | None) -> SlurmWorkers:
    """The ``parallel.slurm`` node (absent: the defaults)."""
    if node is None:
        return SlurmWorkers()
    values = known_settings(node, SlurmWorkers, "parallel.slurm")
    if isinstance(values.get("job_extra"), Sequence) and not isinstance(values["job_extra"], str):
        values["job_extra"] = tuple(values["job_extra"])
    return SlurmWorkers(**values)


# A batch asks the optimizer for n_workers trials before any of their results is told: past a few hundred a
# model-based search proposes a whole batch blind, and threads or local processes outnumber any machine's cores.
# Many more evaluations side by side: independent runs (-m seed=0,1,... on a launcher), not one wider batch.
MAX_WORKERS = 256


@dataclass(frozen=True)
class ParallelSettings:
    n_workers: int = 1
    backend: str = "threads"
    scheduler: str | None = None  # dask: address of a running scheduler; None: a local cluster
    simulate_workers: int | None = None  # K: K asynchronous workers in simulated time (nas_exp.simulated_workers)
    cluster: str = "local"  # dask: where the workers run, local processes | slurm jobs
    slurm: SlurmWorkers = field(default_factory=SlurmWorkers)  # cluster=slurm: each worker's job

    def __post_init__(self) -> None:
        if isinstance(self.n_workers, bool) or not isinstance(self.n_workers, int) or self.n_workers < 1:
            raise ParallelConfigError(f"parallel.n_workers must be an int >= 1, got {self.n_workers!r}")
        if self.n_workers > MAX_WORKERS:
            raise ParallelConfigError(f"parallel.n_workers={self.n_workers} is more than {MAX_WORKERS}: each batch "
                                      f"asks for n_workers trials before any result is told, so the optimizer "
                                      f"would propose them blind; use at most {MAX_WORKERS}, and more seeds side "
                                      f"by side (-m seed=0,1,...) for more at once")
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
        self._check_cluster()

    def check_budget(self, max_evaluations: int | None) -> None:
        """Workers beyond the budget's evaluations would never get a trial."""
        for key, workers in (("n_workers", self.n_workers), ("simulate_workers", self.simulate_workers)):
            if workers is not None and max_evaluations is not None and workers > max(1, max_evaluations):
                raise ParallelConfigError(f"parallel.{key}={workers} is more than the budget's {max_evaluations} "
                                          f"evaluations, so {workers - max_evaluations} workers would never get a "
                                          f"trial; use parallel.{key}={max_evaluations} or a larger "
                                          "budget.max_evaluations")

    def _check_cluster(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ParallelConfigError(f"unknown parallel.cluster {self.cluster!r}; valid: {', '.join(CLUSTERS)}")
        if self.cluster == "local":
            return
        if self.backend != "dask":
            raise ParallelConfigError("parallel.cluster=slurm runs dask workers in SLURM jobs: it needs "
                                      "parallel.backend=dask")
        if self.scheduler is not None:
            raise ParallelConfigError("parallel.cluster=slurm starts its own scheduler; leave parallel.scheduler "
                                      "null (or set parallel.cluster=local to use the running one)")
        if self.simulate_workers is not None:
            raise ParallelConfigError("parallel.simulate_workers runs no workers; it excludes parallel.cluster=slurm")


def parallel_settings(node: Mapping[str, Any] | None) -> ParallelSettings:
    """The ``parallel`` config node (absent: one evaluation at a time)."""
    if node is None:
        return ParallelSettings()
    values = known_settings(node, ParallelSettings, "parallel")
    if "slurm" in values:
        values["slurm"] = slurm_workers(values["slurm"])
    return ParallelSettings(**values)


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


def slurm_job_id() -> str | None:
    """The SLURM job this process runs in (None outside SLURM)."""
    return os.environ.get("SLURM_JOB_ID")


def record_workers(client: Any, scheduler: str, log_dir: Path | None) -> None:
    """Say where the workers run: one line on stderr, and ``log_dir/workers.json`` (worker address -> the
    SLURM_JOB_ID in that worker's environment)."""
    seen = {address: job for address, job in sorted(client.run(slurm_job_id).items())}
    print(f"parallel: {len(seen)} dask workers in SLURM jobs {', '.join(map(str, seen.values()))} "
          f"(scheduler {scheduler})", file=sys.stderr, flush=True)
    if log_dir is not None:
        write_json_atomic(Path(log_dir) / "workers.json", {"scheduler": scheduler, "slurm_job_ids": seen})


def check_worker_job(script: str) -> None:
    """``sbatch --test-only`` on the workers' job script: a bad partition, too many cores or too much memory is
    one WorkerStartError now, not a timeout later."""
    done = subprocess.run(["sbatch", "--test-only"], input=script, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        errors = [line.replace("sbatch: error: ", "").strip() for line in done.stderr.splitlines()
                  if "error" in line] or [done.stderr.strip()]
        raise WorkerStartError(f"parallel.cluster=slurm: SLURM refuses the dask workers' job "
                               f"({'; '.join(errors)}); check parallel.slurm (cores, memory, walltime, queue, "
                               "job_extra)")


@contextmanager
def slurm_client(n_workers: int, slurm: SlurmWorkers, log_dir: Path | None) -> Iterator[Any]:
    """A dask client whose ``n_workers`` workers run as SLURM jobs (one worker process and one thread each),
    started now and cancelled on exit; WorkerStartError when they are not all up within ``start_timeout_s``."""
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    if shutil.which("sbatch") is None:
        raise WorkerStartError("parallel.cluster=slurm needs SLURM's sbatch on PATH (start the run on a machine "
                               "of the cluster, e.g. its login node)")
    scheduler_options: dict[str, Any] = {"dashboard": False, "dashboard_address": ":0"}  # no fixed port
    if slurm.interface is not None:
        scheduler_options["interface"] = slurm.interface
    with SLURMCluster(cores=1, processes=1, job_cpu=slurm.cores, memory=slurm.memory, walltime=slurm.walltime,
                      queue=slurm.queue, interface=slurm.interface, job_extra_directives=list(slurm.job_extra),
                      job_name=WORKER_JOB_NAME, log_directory=None if log_dir is None else str(log_dir),
                      scheduler_options=scheduler_options) as cluster, Client(cluster) as client:
        check_worker_job(cluster.job_script())
        cluster.scale(n_workers)
        try:
            client.wait_for_workers(n_workers, timeout=slurm.start_timeout_s)
        except TimeoutError:
            up = len(client.scheduler_info()["workers"])
            raise WorkerStartError(
                f"parallel.cluster=slurm: {up} of {n_workers} dask workers started within "
                f"{slurm.start_timeout_s:g} s (parallel.slurm.start_timeout_s); see squeue for their jobs "
                f"({WORKER_JOB_NAME}) and the worker logs in {log_dir or 'the submission folder'}") from None
        record_workers(client, cluster.scheduler_address, log_dir)
        yield client


SCHEDULER_CONNECT_S = 10  # dask's default is 30 s of retries before it says the scheduler is not there


def connect_scheduler(client_type: Any, address: str) -> Any:
    """A dask ``Client`` of the scheduler at ``address``; a ``WorkerStartError`` line when none answers there."""
    try:
        return client_type(address, timeout=SCHEDULER_CONNECT_S)
    except (OSError, TimeoutError, ValueError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WorkerStartError(f"parallel.scheduler={address}: no dask scheduler answered within "
                               f"{SCHEDULER_CONNECT_S} s ({detail}); start one there (dask scheduler), fix the "
                               "address, or set parallel.scheduler=null for a local cluster") from None


@contextmanager
def dask_client(settings: ParallelSettings, log_dir: Path | None) -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    if settings.cluster == "slurm":
        with slurm_client(settings.n_workers, settings.slurm, log_dir) as client:
            yield client
    elif settings.scheduler is not None:
        with connect_scheduler(Client, settings.scheduler) as client:
            yield client
    else:
        with LocalCluster(n_workers=settings.n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client


@contextmanager
def evaluation_pool(settings: ParallelSettings, log_dir: Path | None = None) -> Iterator[EvaluateMany]:
    """The ``evaluate_many`` for ``run_search``, with its workers started and, on exit, stopped. ``log_dir``:
    where SLURM workers write their logs (None: SLURM's default, the folder the run was started from)."""
    if settings.n_workers == 1 and settings.cluster == "local":
        yield evaluate_serially
    elif settings.backend == "threads":
        with ThreadPoolExecutor(settings.n_workers, thread_name_prefix="nas-exp-evaluate") as pool:
            yield partial(_map_with, pool)
    else:
        import distributed  # noqa: F401 - sets its loggers' levels on import, so before quiet()

        with quiet("distributed"), quiet("dask_jobqueue"), dask_client(settings, log_dir) as client:
            yield DaskEvaluation(client)
