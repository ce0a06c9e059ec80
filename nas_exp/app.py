"""The one entry point of a run: hand a composed config to the black-box loop or to a one-shot method.
``run.py`` calls ``run_experiment``; bad input is a ``UserError`` (one ``error:`` line, exit 2), and so is a
storage failure (a full disk, a read-only folder: ``StorageError``). The run owns its folder while it runs
(``nas_exp.run_folder``) and stops cleanly on SIGINT/SIGTERM (``nas_exp.interruption``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console

from nas_exp.components import check_combination
from nas_exp.errors import UserError, storage_error
from nas_exp.interruption import interruptible
from nas_exp.run_folder import own_run_folder, refuse_earlier_results
from nas_exp.run_log import say_stderr

USER_ERRORS = (UserError,)


def run_experiment(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Run the search of ``cfg`` in ``run_dir``: refused (``RunFolderError``) when another process owns the folder
    or it holds results and ``resume`` is not set; ``RunInterrupted`` after a clean stop on SIGINT/SIGTERM."""
    console = console or Console()
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with own_run_folder(run_dir), interruptible():
            refuse_earlier_results(run_dir, cfg.get("resume", False) is True)
            check_combination(cfg)  # settings that cannot take effect: refused before anything is built
            if cfg.optimizer.get("kind") == "one_shot":  # trains a supernet itself: nas_exp/one_shot/
                from nas_exp.one_shot.run import run_one_shot

                return run_one_shot(cfg, run_dir, console)
            from nas_exp.blackbox import run_blackbox

            return run_blackbox(cfg, run_dir, console)
    except OSError as err:
        storage = storage_error(err, run_dir)
        if storage is None:
            raise
        raise storage from None


def fail(message: str) -> None:
    """The one ``error:`` line of a refused run, on stderr and in the run's log (run.log) where there is one."""
    say_stderr(f"error: {message}")
