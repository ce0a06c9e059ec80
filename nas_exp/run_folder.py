"""A run folder has one owner: the run that holds its lock file.

``own_run_folder`` takes an advisory lock (``fcntl.flock``) on ``.nas-exp.lock`` in the run folder for the run's
life; the lock file names the owner (pid, host, start time). A second process into the same folder (a requeued job
and a manual resume, two shells with one ``hydra.run.dir``) gets ``RunFolderBusy`` (one ``error:`` line, exit 2)
and writes nothing there. The kernel drops the lock when its process ends, however it ends (kill -9 included), so
a lock file left by a killed run does not keep the folder from being resumed.

``refuse_earlier_results``: a run started in a folder that holds an earlier run's results without ``resume=true``
is refused (``RunFolderHasResults``) instead of overwriting them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nas_exp.errors import UserError

LOCK_FILE = ".nas-exp.lock"
# what a run writes as its results; any of them in a folder means an earlier run's record is there
RESULT_FILES = ("trajectory.csv", "evaluations.jsonl", "result.json")


class RunFolderError(UserError):
    """The run folder cannot be used by this run (it is another run's, or holds another run's results)."""


class RunFolderBusy(RunFolderError):
    """Another live process owns the folder."""


class RunFolderHasResults(RunFolderError):
    """The folder holds an earlier run's results and the run was not asked to resume them."""


def owner_of(run_dir: Path) -> str:
    """The owner as its lock file names it: ``pid 123 on host h since 2026-12-01 10:00:00`` (or what can be
    said when the file cannot be read)."""
    try:
        fields = dict(part.split("=", 1) for part in (Path(run_dir) / LOCK_FILE).read_text().split() if "=" in part)
    except OSError:
        return "an unknown process"
    if "pid" not in fields:
        return "a process that is starting"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(fields.get("since", "0"))))
    return f"pid {fields['pid']} on host {fields.get('host', '?')} since {since}"


def busy_error(run_dir: Path) -> RunFolderBusy:
    return RunFolderBusy(f"run folder {run_dir} is in use by another run ({owner_of(run_dir)}); wait for it to "
                         "end (or stop it), or choose another folder with hydra.run.dir=...")


def folder_busy(run_dir: Path) -> bool:
    """Whether a live process holds the folder's lock (a probe: takes nothing, creates nothing)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False  # no lock file (or none readable): no owner
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # also releases the probe's shared lock
    return False


@contextmanager
def own_run_folder(run_dir: Path) -> Iterator[Path]:
    """Hold the folder's lock while the block runs; ``RunFolderBusy`` if another process holds it. The lock file
    is removed when the block ends (a killed owner leaves it behind, unlocked and harmless)."""
    run_dir = Path(run_dir)
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise busy_error(run_dir) from None
            raise
        try:
            same_file = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            break
        os.close(fd)  # the previous owner removed the file between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()} host={socket.gethostname()} since={time.time():.0f}\n".encode())
        yield path
    finally:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # a folder that turned read-only: the lock still goes with the descriptor
        os.close(fd)


def earlier_results(run_dir: Path) -> list[str]:
    """The result files an earlier run left in ``run_dir``."""
    return [name for name in RESULT_FILES if (Path(run_dir) / name).exists()]


def results_error(run_dir: Path, found: list[str]) -> RunFolderHasResults:
    return RunFolderHasResults(
        f"run folder {run_dir} holds an earlier run's results ({', '.join(found)}); add resume=true to continue "
        "it (with a larger budget.max_evaluations to extend it), or choose a new folder with hydra.run.dir=...")


def refuse_earlier_results(run_dir: Path, resume: bool) -> None:
    """``RunFolderHasResults`` when ``run_dir`` holds results and the run does not resume them."""
    found = earlier_results(run_dir)
    if found and not resume:
        raise results_error(run_dir, found)
