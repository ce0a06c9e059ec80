"""Graceful interruption: SIGINT (Ctrl-C) and SIGTERM stop a run cleanly.

While ``interruptible`` is active, the first SIGINT/SIGTERM raises ``RunInterrupted`` where the run is: the
evaluation in progress is dropped (the resumed run makes it again, with the same random draws), and the run then
writes what it has (SMAC's run history, result.json with stop reason ``interrupted``) while further signals are
ignored, so every file it leaves is complete. ``run.py`` prints the resume command and exits with 128 + the signal
number (130 for SIGINT, 143 for SIGTERM).

Only the main thread of the run's process can set signal handlers, so elsewhere (a launcher's worker thread)
nothing is installed. A signal whose handler is not Python's default is left alone: submitit (the SLURM launcher)
installs its own SIGTERM (and SIGUSR2) handlers for requeueing and timeouts, and an ignored SIGINT (a job started
in the background) stays ignored. The previous handlers are restored when the block ends.
"""

from __future__ import annotations

import inspect
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED = "interrupted"  # result.json's stop_reason


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (a KeyboardInterrupt, so ``except Exception`` blocks let it through)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interruption:
    """The run's signal state: which signal stopped it, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return  # already stopping: let the run finish writing its files
        self.signum = signum
        raise RunInterrupted(signum)


def ours_to_handle(previous: object) -> bool:
    """Whether a signal with this handler is left to us: Python's defaults, nothing someone else installed."""
    return previous in (signal.SIG_DFL, signal.default_int_handler)


@contextmanager
def interruptible(signals: tuple[int, ...] = HANDLED) -> Iterator[Interruption]:
    """Turn ``signals`` into ``RunInterrupted`` while the block runs (see the module's docstring)."""
    state = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = {signum: signal.getsignal(signum) for signum in signals}
    installed = [signum for signum, handler in previous.items() if ours_to_handle(handler)]
    for signum in installed:
        signal.signal(signum, state.handle)
    try:
        yield state
    finally:
        for signum in installed:
            signal.signal(signum, previous[signum])


@contextmanager
def deferred(signals: tuple[int, ...] = HANDLED) -> Iterator[None]:
    """Hold an ``interruptible`` run's SIGINT/SIGTERM while the block runs and raise ``RunInterrupted`` right after
    it: for code that updates state in several steps which a stop half-way would leave inconsistent (SMAC's ask and
    tell update its run history's running-trial counter and list one after the other; its save asserts they
    agree). Signals handled by someone else, and other threads, are left as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ours = {}
    for signum in signals:
        handler = signal.getsignal(signum)
        if inspect.ismethod(handler) and isinstance(handler.__self__, Interruption):
            ours[signum] = handler
    held: list[int] = []
    for signum in ours:
        signal.signal(signum, lambda received, frame: held.append(received))
    try:
        yield
    finally:
        for signum, handler in ours.items():
            signal.signal(signum, handler)
        if held:
            ours[held[0]](held[0], None)  # raises RunInterrupted (unless the run is already stopping)
