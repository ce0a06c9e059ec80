"""Failure isolation for multiruns: a job that raises is recorded in its own folder and the sweep goes on.

Every launcher (basic, joblib, submitit) runs the task function somewhere and gives the parent nothing back but
the job folders, so failures travel through the file system: the job writes ``failed.json`` (error, message,
traceback, overrides) and a line on stderr; when the sweep ends, ``SweepSummary`` (nas_exp/sweep_summary.py, a Hydra
callback) prints the table of all jobs, then reads the failures here, prints one line per failed job and exits
non-zero.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from nas_exp.trajectory import write_json_atomic

FAILED_FILE = "failed.json"
SWEEP_FAILED_EXIT = 1
T = TypeVar("T")


@dataclass(frozen=True)
class JobFailure:
    """One job that raised: where, with which overrides, and what."""

    job_num: int
    job_dir: str
    overrides: list[str]
    error_type: str
    message: str
    user_error: bool  # a bad setting (reported as ``error: ...`` in a single run) rather than a crash
    traceback: str

    @property
    def first_line(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""

    def line(self) -> str:
        overrides = " ".join(self.overrides) or "(no overrides)"
        return f"#{self.job_num} {overrides}: {self.error_type}: {self.first_line}"


def failure_from(err: BaseException, job_num: int, job_dir: Path, overrides: Sequence[str],
                 user_error: bool) -> JobFailure:
    return JobFailure(
        job_num=job_num,
        job_dir=str(job_dir),
        overrides=list(overrides),
        error_type=type(err).__name__,
        message=str(err),
        user_error=user_error,
        traceback="".join(traceback.format_exception(err)),
    )


def write_failure(failure: JobFailure) -> Path:
    path = Path(failure.job_dir) / FAILED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, asdict(failure))
    return path


def clear_failure(job_dir: Path) -> None:
    """A job started again (e.g. resumed) forgets the failure of its earlier attempt."""
    (Path(job_dir) / FAILED_FILE).unlink(missing_ok=True)


def read_failures(sweep_dir: Path) -> list[JobFailure]:
    """The failures recorded in a sweep's job folders, by job number."""
    failures = []
    for path in Path(sweep_dir).glob(f"*/{FAILED_FILE}"):
        try:
            failures.append(JobFailure(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):  # unreadable: still a failed job
            failures.append(JobFailure(-1, str(path.parent), [], "UnreadableFailure", f"see {path}", False, ""))
    return sorted(failures, key=lambda f: (f.job_num, f.job_dir))


def count_jobs(sweep_dir: Path) -> int:
    return sum(1 for _ in Path(sweep_dir).glob("*/.hydra"))


def job_ranges(numbers: Sequence[int]) -> str:
    """Job numbers as runs: [0, 1, 2, 5] -> "#0-2, #5"."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(f"#{a}" if a == b else f"#{a}-{b}" for a, b in runs)


def summary_lines(failures: Sequence[JobFailure], n_jobs: int) -> list[str]:
    """A header, then one line per distinct error: a job alone with its overrides and folder; jobs that failed
    the same way (e.g. every seed on the same missing data) together, with their numbers."""
    if not failures:
        return []
    total = max(n_jobs, len(failures))
    groups: dict[tuple[str, str], list[JobFailure]] = {}
    for failure in failures:
        groups.setdefault((failure.error_type, failure.first_line), []).append(failure)
    lines = [f"error: {len(failures)} of {total} jobs failed (traceback in each job's {FAILED_FILE}):"]
    for (error_type, message), group in groups.items():
        if len(group) == 1:
            lines.append(f"  {group[0].line()}  [{group[0].job_dir}]")
        else:
            where = Path(group[0].job_dir).parent
            lines.append(f"  {len(group)} jobs {job_ranges([f.job_num for f in group])}: {error_type}: {message}"
                         f"  [{where}]")
    return lines


def run_isolated(job: Callable[[], T], job_num: int, job_dir: Path, overrides: Sequence[str],
                 user_errors: tuple[type[BaseException], ...],
                 passthrough: tuple[type[BaseException], ...] = ()) -> T | JobFailure:
    """Run one multirun job; any exception is recorded in ``job_dir/failed.json`` and reported on stderr instead
    of stopping the sweep. KeyboardInterrupt and SystemExit still stop it, and so do ``passthrough`` exceptions
    (a folder another run owns: nothing may be written into it, and the sweep is that run's too)."""
    clear_failure(job_dir)
    try:
        return job()
    except passthrough:
        raise
    except Exception as err:  # noqa: BLE001 - isolation is the point: bad data, OOM, a crashed training
        failure = failure_from(err, job_num, job_dir, overrides, user_error=isinstance(err, user_errors))
        write_failure(failure)
        print(f"error: job {failure.line()}", file=sys.stderr, flush=True)
        return failure


def exit_on_failures(sweep_dir: Path) -> None:
    """List the sweep's failed jobs on stderr and exit non-zero, if any failed."""
    lines = summary_lines(read_failures(sweep_dir), count_jobs(sweep_dir))
    if lines:
        print("\n".join(lines), file=sys.stderr, flush=True)
        raise SystemExit(SWEEP_FAILED_EXIT)  # Hydra's callback runner only swallows Exceptions


class FailureSummary(Callback):
    """Hydra callback: when a multirun ends, list its failed jobs on stderr and exit non-zero (the whole
    sweep's table with it: ``nas_exp.sweep_summary.SweepSummary``, the default)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        exit_on_failures(Path(str(config.hydra.sweep.dir)))
