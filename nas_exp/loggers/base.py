"""Loggers mirror a run elsewhere (W&B, ...). The local trajectory.csv/result.json stay the source of truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from nas_exp.trajectory import TrajectoryRow


class Logger(Protocol):
    def start(self, config: dict[str, Any], run_dir: str, metrics: dict[str, Any] | None = None) -> None: ...

    def log_evaluation(self, row: TrajectoryRow) -> None: ...

    def log_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """One step of a run that has no evaluations to log (a one-shot search epoch)."""
        ...

    def finish(self, summary: dict[str, Any]) -> None: ...
