"""The one entry point of a run: hand a composed config to the black-box loop or to a one-shot method.
``run.py`` calls ``run_experiment``; bad input is a ``UserError`` (one ``error:`` line, exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console

from nas_exp.errors import UserError

USER_ERRORS = (UserError,)


def run_experiment(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.optimizer.get("kind") == "one_shot":  # trains a supernet itself: nas_exp/one_shot/, not ask/tell
        from nas_exp.one_shot.run import run_one_shot

        return run_one_shot(cfg, run_dir, console)
    from nas_exp.blackbox import run_blackbox

    return run_blackbox(cfg, run_dir, console)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
