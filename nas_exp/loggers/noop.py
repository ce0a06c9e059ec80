"""The logger that logs nothing (``logger=none``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas_exp.trajectory import TrajectoryRow


class NoopLogger:
    def start(self, config: dict[str, Any], run_dir: str, metrics: dict[str, Any] | None = None) -> None:
        pass

    def log_evaluation(self, row: TrajectoryRow) -> None:
        pass

    def log_step(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def finish(self, summary: dict[str, Any]) -> None:
        pass
