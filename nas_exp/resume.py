"""Resuming a run that was killed (``resume=true`` with ``hydra.run.dir=<its folder>``).

A run folder holds what resuming needs: ``config.json`` (the resolved config, written when the run starts),
``trajectory.csv`` (one row per evaluation, flushed as it happens) and ``evaluations.jsonl`` (what the evaluator
returned for each new evaluation, flushed as it happens). Resuming replays: the optimizer is built from scratch
with the same seed and re-asked; each proposal must be the recorded one (else ``ResumeError``); the recorded
evaluations are served instead of evaluated again, so the optimizer is told exactly what it was told before; each
replayed row must equal the recorded one (wall_time aside). Then the search simply continues, appending rows.
Since every evaluation draws from a generator of (seed, evaluation index), the continued run ends with the
trajectory an uninterrupted run would have written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from nas_exp.evaluation.base import Evaluation, Evaluator
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.runner import EvaluateMany, EvaluationRequest, trial_epochs
from nas_exp.search_spaces.base import SearchSpace
from nas_exp.trajectory import DEFAULT_COLUMNS, Columns, TrajectoryRow, read_trajectory, write_json_atomic
from nas_exp.errors import UserError

CONFIG_FILE = "config.json"
EVALUATIONS_FILE = "evaluations.jsonl"
TRAJECTORY_FILE = "trajectory.csv"
RESULT_FILE = "result.json"
# settings that do not change what a run computes, so a resumed run may use others
MAY_DIFFER = ("resume", "progress", "logger", "parallel.backend", "parallel.scheduler", "parallel.cluster",
              "parallel.slurm")


class ResumeError(UserError):
    """The folder cannot be resumed with this config (reported as one ``error:`` line)."""


# --- the config a run started with -----------------------------------------------------------------------------

def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): node}


def config_differences(recorded: Mapping[str, Any], current: Mapping[str, Any],
                       may_differ: Sequence[str] = MAY_DIFFER) -> list[str]:
    """``key: recorded -> current`` for every setting that differs, except those in ``may_differ`` (and below)."""
    def kept(key: str) -> bool:
        return not any(key == prefix or key.startswith(prefix + ".") for prefix in may_differ)

    old, new = flatten(recorded), flatten(current)
    return [f"{key}: {old.get(key, '<absent>')!r} -> {new.get(key, '<absent>')!r}"
            for key in sorted(set(old) | set(new)) if kept(key) and old.get(key) != new.get(key)]


def write_run_config(run_dir: Path, config: Mapping[str, Any]) -> None:
    write_json_atomic(Path(run_dir) / CONFIG_FILE, {"config": dict(config)})


# --- what a killed run left ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResumePlan:
    """What a resumed run starts from. ``finished``: the result.json of a run that already ended."""

    run_dir: Path
    rows: list[TrajectoryRow] = field(default_factory=list)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    finished: dict[str, Any] | None = None


def plan_resume(run_dir: Path, config: Mapping[str, Any], columns: Columns = DEFAULT_COLUMNS) -> ResumePlan | None:
    """How to resume the run in ``run_dir`` with ``config`` (its trajectory has ``columns``); None when there is
    nothing to resume (a fresh start). Raises ResumeError for a folder of another config or one that cannot be
    read back."""
    run_dir = Path(run_dir)
    if not (run_dir / TRAJECTORY_FILE).is_file():
        return None
    try:
        recorded = json.loads((run_dir / CONFIG_FILE).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ResumeError(f"cannot resume {run_dir}: no readable {CONFIG_FILE} (the config the run started with); "
                          "was it started by this version of nas-exp?") from None
    differences = config_differences(recorded, config)
    if differences:
        shown = "; ".join(differences[:4]) + (f"; and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise ResumeError(f"cannot resume {run_dir}: it was started with another config ({shown}); resume with "
                          "the same settings, or start a new run folder")
    if (run_dir / RESULT_FILE).is_file():
        return ResumePlan(run_dir, finished=json.loads((run_dir / RESULT_FILE).read_text()))
    try:
        rows = read_trajectory(run_dir / TRAJECTORY_FILE, columns)
    except ValueError as err:
        raise ResumeError(f"cannot resume: {err}") from None
    return ResumePlan(run_dir, rows, read_evaluations(run_dir / EVALUATIONS_FILE))


# --- evaluations.jsonl -------------------------------------------------------------------------------------------

def request_key(request: EvaluationRequest) -> str:
    """What identifies an evaluation within a run (the search loop's cache key)."""
    hyperparameters = None if request.hyperparameters is None else sorted(
        (name, float(value)) for name, value in request.hyperparameters.items())
    return json.dumps([request.key, request.epochs, hyperparameters])


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def evaluation_record(request: EvaluationRequest, evaluation: Evaluation) -> str:
    payload = asdict(evaluation)
    payload["metrics"] = {name: _plain(value) for name, value in evaluation.metrics.items()}
    return json.dumps({"key": request_key(request), "n": request.n, "evaluation": payload}, default=_plain)


def _complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of ``path`` (what follows the last newline was cut off by a kill)."""
    if not path.is_file():
        return []
    return path.read_text().split("\n")[:-1]


def read_evaluations(path: Path) -> dict[str, Evaluation]:
    recorded = {}
    for number, line in enumerate(_complete_lines(path), start=1):
        try:
            record = json.loads(line)
            recorded[record["key"]] = Evaluation(**record["evaluation"])
        except (ValueError, KeyError, TypeError) as err:
            raise ResumeError(f"cannot resume: {path}, line {number}: {err}") from None
    return recorded


class EvaluationLog:
    """Appends one line per new evaluation to evaluations.jsonl, flushed, so a killed run loses none."""

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = Path(path)
        if append and self.path.is_file():
            kept = _complete_lines(self.path)
            self.path.write_text("".join(line + "\n" for line in kept))  # drop a half-written last line
        self._handle = open(self.path, "a" if append else "w")

    def write(self, request: EvaluationRequest, evaluation: Evaluation) -> None:
        self._handle.write(evaluation_record(request, evaluation) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> EvaluationLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recorded_first(evaluate_many: EvaluateMany, recorded: Mapping[str, Evaluation],
                   log: EvaluationLog) -> EvaluateMany:
    """``evaluate_many`` that serves evaluations a killed run already made (no re-evaluation) and logs the new
    ones, in request order, from the search's own thread."""
    def evaluate(evaluator: Evaluator, requests: Sequence[EvaluationRequest]) -> list[Evaluation]:
        new = [request for request in requests if request_key(request) not in recorded]
        made = dict(zip(map(request_key, new), evaluate_many(evaluator, new), strict=True))
        for request in new:
            log.write(request, made[request_key(request)])
        return [recorded[key] if key in recorded else made[key] for key in map(request_key, requests)]

    return evaluate


# --- replay checks -----------------------------------------------------------------------------------------------

class ReplayGuard:
    """Wraps the optimizer of a resumed run: its first proposals must be the recorded ones. Everything else
    (name, max_budget, resumes_training, ...) is the wrapped optimizer's."""

    def __init__(self, inner: Optimizer, space: SearchSpace, evaluator: Evaluator,
                 rows: Sequence[TrajectoryRow], run_dir: Path) -> None:
        self.inner, self.space, self.evaluator = inner, space, evaluator
        self.rows, self.run_dir = list(rows), run_dir
        self.asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["inner"], name)

    def ask(self) -> Trial:
        trial = self.inner.ask()
        if self.asked < len(self.rows):
            expected = self.rows[self.asked]
            arch = self.space.key(self.space.from_config(trial.config))
            epochs = trial_epochs(trial, self.evaluator)
            if (arch, epochs) != (expected.arch, expected.epochs):
                raise ResumeError(
                    f"cannot resume {self.run_dir}: evaluation {expected.n} was {expected.arch} "
                    f"(epochs {expected.epochs}) but the optimizer now proposes {arch} (epochs {epochs}); the "
                    "folder was written by another version of the code, or the run is not reproducible "
                    "(PYTHONHASHSEED must be 0: start it with run.py)")
        self.asked += 1
        return trial

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self.inner.tell(trial, loss=loss, cost=cost)


@dataclass
class RowReplay:
    """Checks the replayed rows against the recorded ones; later rows continue the recorded wall clock."""

    recorded: list[TrajectoryRow]
    run_dir: Path
    wall_shift: float = 0.0

    def new_row(self, row: TrajectoryRow) -> TrajectoryRow | None:
        """None for a replayed row (already in the file), else the row to write."""
        if row.n > len(self.recorded):
            return replace(row, wall_time=row.wall_time + self.wall_shift)
        expected = self.recorded[row.n - 1]
        if replace(row, wall_time=0.0) != replace(expected, wall_time=0.0):
            fields = [name for name in asdict(row) if name != "wall_time" and getattr(row, name) != getattr(
                expected, name)]
            raise ResumeError(f"cannot resume {self.run_dir}: replaying evaluation {row.n} gives another "
                              f"{', '.join(fields)} than recorded; the folder was written by another version "
                              "of the code or data")
        self.wall_shift = expected.wall_time - row.wall_time
        return None
