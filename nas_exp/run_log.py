"""The run's messages, on the console and in its log (``run.log`` in the run folder).

A run shows its lines on the console with rich (the ``Console`` it was given, so in-process callers and tests see
them) and sends each through Python logging as well, to the logger ``nas_exp.run``. Hydra's job logging
(conf/hydra/job_logging/nas_exp.yaml) writes every record to ``RUN_FOLDER/run.log`` and shows on the console only
those not shown there already (``ConsoleFilter``), so no line appears twice. Lines meant for the log alone (one per
evaluation, one per training epoch) are marked the same way: the console has the progress bar for them.

Outside a Hydra job (``run_experiment`` called from Python) nothing is configured: the lines reach the console
only, and the ``NullHandler`` below keeps logging's last-resort handler from printing them a second time.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

LOG = logging.getLogger("nas_exp.run")
logging.getLogger("nas_exp").addHandler(logging.NullHandler())

NOT_FOR_CONSOLE = "nas_exp_not_for_console"  # a record attribute: shown on the console already, or log-only
_MARK: dict[str, Any] = {NOT_FOR_CONSOLE: True}


class ConsoleFilter(logging.Filter):
    """For the job's console handler: drops the records the run has shown on the console itself (or keeps for
    the log only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, NOT_FOR_CONSOLE, False)


def plain(message: str) -> str:
    """``message`` without rich markup (``[bold]run folder[/]`` -> ``run folder``)."""
    return Text.from_markup(message).plain


def say(console: Console, message: str, level: int = logging.INFO) -> None:
    """Show ``message`` (rich markup allowed) on ``console`` and write it to the run's log."""
    console.print(message, soft_wrap=True)
    LOG.log(level, plain(message), extra=_MARK)


def say_stderr(message: str, level: int = logging.ERROR) -> None:
    """Print ``message`` on stderr (an error line, an interruption) and write it to the run's log."""
    print(message, file=sys.stderr, flush=True)
    LOG.log(level, message, extra=_MARK)


def log_only(message: str, level: int = logging.INFO, exc_info: BaseException | None = None) -> None:
    """Write ``message`` to the run's log, not to the console (a progress bar or a traceback shows it there)."""
    LOG.log(level, message, extra=_MARK, exc_info=exc_info)
