"""The search trajectory: one row per evaluation, appended and flushed to trajectory.csv as it happens."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import astuple, dataclass, fields
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from nas_exp.errors import UserError


@dataclass(frozen=True)
class TrajectoryRow:
    """One evaluation. ``value``/``test`` are the evaluator's search and report metrics; in trajectory.csv their
    columns carry those metrics' names (see ``Columns``: ``valid_acc``/``test_acc`` on NB201, ``valid_mse`` on
    FCNet)."""

    n: int  # 1-based evaluation count
    arch: str  # the space's key of the architecture
    epochs: int | None  # epochs trained (multi-fidelity); empty: full training
    value: float  # the search metric the optimizer was told
    test: float | None  # the report metric after full training; empty where the data has none
    cost: float  # seconds this evaluation cost the budget (simulated in tabular mode)
    simulated_time: float  # summed cost so far
    wall_time: float  # real seconds since the search started
    incumbent_value: float | None  # the incumbent's search metric after full training
    incumbent_test: float | None
    incumbent_arch: str | None  # empty until an evaluation at the optimizer's top fidelity
    repeat: bool  # the cell was evaluated before in this run: served from cache, charged again
    # Joint architecture + hyperparameter search (search_space=nb201_hpo): the training hyperparameters as compact
    # JSON, e.g. {"learning_rate":0.05,"weight_decay":0.0003}; empty for a space of cells only.
    hyperparameters: str | None = None
    incumbent_hyperparameters: str | None = None


def hyperparameters_json(values: Mapping[str, float] | None) -> str | None:
    """Hyperparameters as they are stored in the trajectory: compact JSON with sorted keys (None stays None)."""
    if values is None:
        return None
    return json.dumps({name: float(values[name]) for name in sorted(values)}, separators=(",", ":"))


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrajectoryRow))
FIELD_TYPES: dict[str, Any] = get_type_hints(TrajectoryRow)  # resolved once: per row it was most of a read's time
METRIC_FIELDS = ("value", "test", "incumbent_value", "incumbent_test")


@dataclass(frozen=True)
class Columns:
    """The header of a trajectory.csv: the row's fields, with the metric fields named after the evaluator's
    search and report metrics (``value`` -> ``valid_acc``, ``incumbent_test`` -> ``incumbent_test_acc``)."""

    search: str = "valid_acc"
    report: str = "test_acc"

    @property
    def names(self) -> tuple[str, ...]:
        rename = {"value": self.search, "test": self.report, "incumbent_value": f"incumbent_{self.search}",
                  "incumbent_test": f"incumbent_{self.report}"}
        return tuple(rename.get(name, name) for name in FIELDS)

    @classmethod
    def of(cls, search: str, report: str | None) -> Columns:
        """Columns for a search metric and a report metric (None: ``test_<search metric's stem>``)."""
        return cls(search, report if report else "test_" + search.removeprefix("valid_"))


DEFAULT_COLUMNS = Columns()
COLUMNS: tuple[str, ...] = DEFAULT_COLUMNS.names


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse_cell(text: str, annotation: Any) -> Any:
    """The inverse of ``_cell`` for one field of TrajectoryRow."""
    kinds = getattr(annotation, "__args__", (annotation,))
    if text == "" and type(None) in kinds:
        return None
    if bool in kinds:
        return text == "1"
    if int in kinds:
        return int(text)
    if float in kinds:
        return float(text)
    return text


def parse_row(cells: list[str]) -> TrajectoryRow:
    if len(cells) != len(FIELDS):
        raise UserError(f"expected {len(FIELDS)} columns, got {len(cells)}")
    return TrajectoryRow(**{name: _parse_cell(text, FIELD_TYPES[name]) for name, text in zip(FIELDS, cells,
                                                                                           strict=True)})


def read_trajectory(path: Path, columns: Columns = DEFAULT_COLUMNS) -> list[TrajectoryRow]:
    """The complete rows of a trajectory.csv with ``columns``. Text after the last newline (a row a killed run
    left half-written) is dropped; a complete line that does not parse, or a header of other columns, is an
    error."""
    with open(path, newline="") as handle:
        complete = handle.read().split("\n")[:-1]  # [-1]: "" or the half-written line
    if not complete:
        raise UserError(f"{path}: no header line")
    header = next(csv.reader([complete[0]]))
    if tuple(header) != columns.names:
        raise UserError(f"{path}: columns {', '.join(header)} are not this version's {', '.join(columns.names)}")
    rows = []
    for number, line in enumerate(complete[1:], start=2):
        try:
            rows.append(parse_row(next(csv.reader([line]))))
        except (ValueError, StopIteration) as err:
            raise UserError(f"{path}, line {number}: {err}") from None
    return rows


class LineAppender:
    """Appends whole lines to a file, each in one unbuffered write (so it is on disk when ``append`` returns). A
    write that fails part-way (a full disk) is cut off again: the file never ends in half a line of ours."""

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = Path(path)
        self._file = open(self.path, "ab" if append else "wb", buffering=0)
        self._end = self._file.seek(0, os.SEEK_END)

    def append(self, text: str) -> None:
        data = memoryview(text.encode())
        try:
            while data:
                data = data[self._file.write(data):]
        except BaseException:
            self._file.truncate(self._end)
            raise
        self._end += len(text.encode())

    def close(self) -> None:
        self._file.close()


def csv_line(cells: list[str] | tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


class TrajectoryWriter:
    """Writes rows to ``path`` (a CSV with a header), each on disk when ``write`` returns, so a killed run loses
    nothing; a row that cannot be written whole (a full disk) is not left half-written.

    ``keep_rows``: continue a trajectory (resume) after its first ``keep_rows`` complete rows: the file is cut
    there (dropping what follows, e.g. a half-written line) and new rows are appended. ``columns``: the header
    (``Columns.names`` of the run's metrics, or the fields of another dataclass: one-shot runs write one row
    per search epoch)."""

    def __init__(self, path: Path, keep_rows: int | None = None, columns: tuple[str, ...] = COLUMNS) -> None:
        self.path = Path(path)
        if keep_rows is None:
            self._lines = LineAppender(self.path)
            self._lines.append(csv_line(columns))
        else:
            _cut_after_lines(self.path, keep_rows + 1)  # the header and the rows kept
            self._lines = LineAppender(self.path, append=True)

    def write(self, row: Any) -> None:
        """Append one row: a dataclass whose fields are the columns, in order."""
        self._lines.append(csv_line([_cell(v) for v in astuple(row)]))

    def close(self) -> None:
        self._lines.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut_after_lines(path: Path, n_lines: int) -> None:
    """Truncate ``path`` after its first ``n_lines`` newline-terminated lines."""
    with open(path, "rb+") as handle:
        data = handle.read()
        end = 0
        for _ in range(n_lines):
            found = data.find(b"\n", end)
            if found < 0:
                raise UserError(f"{path} has fewer than {n_lines} complete lines")
            end = found + 1
        handle.truncate(end)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file in the same folder, then rename: readers never see half a file, and a write
    that fails (a full disk, an interruption) leaves the old file and no temp file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically (``write_text_atomic``)."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
