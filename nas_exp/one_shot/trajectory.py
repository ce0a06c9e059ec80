"""The one-shot trajectory: one row per search epoch, appended and flushed to trajectory.csv as it happens."""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path

from nas_exp.errors import UserError
from nas_exp.trajectory import TrajectoryWriter


@dataclass(frozen=True)
class OneShotRow:
    epoch: int  # 1-based search epoch
    arch: str  # the discretized cell after this epoch (the final cell on the last row)
    table_valid_acc: float | None  # stand-alone validation accuracy in the space's table (None: no table)
    oneshot_valid_acc: float  # %, the supernet restricted to the cell, on the searched dataset's valid split
    train_loss: float  # mean weight-step loss of the epoch
    wall_time: float  # seconds since the search started
    hessian_eigenvalue: float | None  # DARTS with hessian: track/stop; empty otherwise


ONE_SHOT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(OneShotRow))


def one_shot_trajectory_writer(path: Path) -> TrajectoryWriter:
    """The run's trajectory.csv with one flushed line per search epoch (a killed run loses no finished epoch)."""
    return TrajectoryWriter(path, columns=ONE_SHOT_COLUMNS)


def read_one_shot_trajectory(path: Path) -> list[OneShotRow]:
    """The rows of a one-shot trajectory.csv (empty cells -> None)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader))
        if header != ONE_SHOT_COLUMNS:
            raise UserError(f"{path}: columns {', '.join(header)} are not a one-shot trajectory's "
                             f"{', '.join(ONE_SHOT_COLUMNS)}")
        return [OneShotRow(int(c[0]), c[1], _float(c[2]), float(c[3]), float(c[4]), float(c[5]), _float(c[6]))
                for c in reader]


def _float(text: str) -> float | None:
    return None if text == "" else float(text)
