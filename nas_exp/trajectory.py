"""The search trajectory: one row per evaluation, appended and flushed to trajectory.csv as it happens."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrajectoryRow:
    n: int  # 1-based evaluation count
    arch: str
    epochs: int | None  # epochs trained (multi-fidelity); empty: full training
    valid_acc: float  # the accuracy the optimizer was told
    test_acc: float | None  # after full training; empty where the data has none
    cost: float  # seconds this evaluation cost the budget (simulated in tabular mode)
    simulated_time: float  # summed cost so far
    wall_time: float  # real seconds since the search started
    incumbent_valid_acc: float | None  # the incumbent's validation accuracy after full training
    incumbent_test_acc: float | None
    incumbent_arch: str | None  # empty until an evaluation at the optimizer's top fidelity
    repeat: bool  # the cell was evaluated before in this run: served from cache, charged again


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TrajectoryRow))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


class TrajectoryWriter:
    """Writes rows to ``path`` (a CSV with a header), flushing after each so a killed run loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle = open(self.path, "w", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(COLUMNS)
        self._handle.flush()

    def write(self, row: TrajectoryRow) -> None:
        self._writer.writerow([_cell(v) for v in astuple(row)])
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temp file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
