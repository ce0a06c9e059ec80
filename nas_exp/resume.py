"""Resuming a run that was killed (``resume=true`` with ``hydra.run.dir=<its folder>``).

A run folder holds what resuming needs: ``config.json`` (the resolved config, written when the run starts),
``trajectory.csv`` (one row per evaluation, flushed as it happens) and ``evaluations.jsonl`` (what the evaluator
returned for each new evaluation, flushed as it happens). Resuming replays: the optimizer is built from scratch
with the same seed and re-asked; each proposal must be the recorded one (else ``ResumeError``); the recorded
evaluations are served instead of evaluated again, so the optimizer is told exactly what it was told before; each
replayed row must equal the recorded one (wall_time aside). Then the search simply continues, appending rows.
Since every evaluation draws from a generator of (seed, evaluation index), the continued run ends with the
trajectory an uninterrupted run would have written.

Extending a run: ``resume=true`` with a larger budget (``budget.max_evaluations`` and/or
``budget.max_simulated_seconds``) continues a finished, interrupted or killed run up to the new budget. The
optimizer is built with the budget the run started with (recorded in config.json), because some optimizers size
themselves by it (SMAC's initial design is a share of its trials), so the replay proposes what was recorded and the
continuation is what that optimizer proposes next. A smaller budget, or one of another kind, is refused.
A result.json with stop reason ``interrupted`` (SIGINT/SIGTERM) is not a finished run: resuming continues it.
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
from nas_exp.trajectory import (DEFAULT_COLUMNS, Columns, LineAppender, TrajectoryRow, read_trajectory,
                                write_json_atomic, write_text_atomic)
from nas_exp.errors import UserError
from nas_exp.interruption import INTERRUPTED

CONFIG_FILE = "config.json"
EVALUATIONS_FILE = "evaluations.jsonl"
TRAJECTORY_FILE = "trajectory.csv"
RESULT_FILE = "result.json"
# settings that do not change what a run computes, so a resumed run may use others
MAY_DIFFER = ("resume", "progress", "logger", "parallel.backend", "parallel.scheduler", "parallel.cluster",
              "parallel.slurm", "evaluation.threads")
BUDGET_LIMITS = ("max_evaluations", "max_simulated_seconds")  # may grow on resume (extending the run)


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
    """What a resumed run starts from. ``finished``: the result.json of a run that already ended (within the
    budget asked now). ``extends``: the budget the run was started with, where the one asked now is larger."""

    run_dir: Path
    rows: list[TrajectoryRow] = field(default_factory=list)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    finished: dict[str, Any] | None = None
    extends: dict[str, Any] | None = None


def recorded_config(run_dir: Path) -> dict[str, Any] | None:
    """The config the run in ``run_dir`` started with (config.json), or None where there is none to read."""
    try:
        recorded = json.loads((Path(run_dir) / CONFIG_FILE).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded if isinstance(recorded, dict) else None


def budget_grows(before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether budget ``now`` is larger than ``before`` in a limit; ValueError (the reason) where it is smaller in
    one, or of another kind (a limit set in one and unset in the other, another budget class)."""
    if before.get("_target_") != now.get("_target_"):
        raise ValueError(f"budget {before.get('_target_')!r} -> {now.get('_target_')!r}")
    grows = False
    for limit in BUDGET_LIMITS:
        old, new = before.get(limit), now.get(limit)
        if (old is None) != (new is None):
            raise ValueError(f"budget.{limit}: {old!r} -> {new!r} (a limit cannot be added or removed)")
        if old is not None and new < old:
            raise ValueError(f"budget.{limit}: {old!r} -> {new!r} (a budget can be extended, not shrunk)")
        grows = grows or (old is not None and new > old)
    return grows


def check_budget_change(run_dir: Path, before: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    try:
        return budget_grows(before, now)
    except ValueError as err:
        raise ResumeError(f"cannot resume {run_dir} with this budget: {err}; resume with the run's budget or a "
                          "larger one, or start a new run folder") from None


def plan_resume(run_dir: Path, config: Mapping[str, Any], columns: Columns = DEFAULT_COLUMNS) -> ResumePlan | None:
    """How to resume the run in ``run_dir`` with ``config`` (its trajectory has ``columns``); None when there is
    nothing to resume (a fresh start). Raises ResumeError for a folder of another config or one that cannot be
    read back."""
    run_dir = Path(run_dir)
    if not (run_dir / TRAJECTORY_FILE).is_file():
        return None
    recorded = recorded_config(run_dir)
    if recorded is None:
        raise ResumeError(f"cannot resume {run_dir}: no readable {CONFIG_FILE} (the config the run started with); "
                          "was it started by this version of nas-exp?")
    differences = config_differences(recorded, config, (*MAY_DIFFER, "budget"))
    if differences:
        shown = "; ".join(differences[:4]) + (f"; and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise ResumeError(f"cannot resume {run_dir}: it was started with another config ({shown}); resume with "
                          "the same settings, or start a new run folder")
    budget = config.get("budget", {})
    extends = check_budget_change(run_dir, recorded.get("budget", {}), budget)
    result = read_result(run_dir)
    if result is not None and result.get("stop_reason") != INTERRUPTED:
        ended_with = result.get("config", {}).get("budget", recorded.get("budget", {}))
        try:
            finished = not budget_grows(ended_with, budget)
        except ValueError:  # the run ended with a larger budget than is asked now
            finished = True
        if finished:
            return ResumePlan(run_dir, finished=result)
    try:
        rows = read_trajectory(run_dir / TRAJECTORY_FILE, columns)
    except ValueError as err:
        raise ResumeError(f"cannot resume: {err}") from None
    limit = budget.get("max_evaluations")
    if limit is not None and len(rows) > limit:
        raise ResumeError(f"cannot resume {run_dir} with budget.max_evaluations={limit}: it has made {len(rows)} "
                          "evaluations already; resume with a budget of at least that many")
    return ResumePlan(run_dir, rows, read_evaluations(run_dir / EVALUATIONS_FILE),
                      extends=dict(recorded.get("budget", {})) if extends else None)


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """result.json of the run in ``run_dir``, or None where there is none (a half-written one cannot exist: it is
    written atomically)."""
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise ResumeError(f"cannot resume {run_dir}: {RESULT_FILE} is not valid JSON; remove it to resume from "
                          "the trajectory") from None


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
    """Appends one line per new evaluation to evaluations.jsonl, on disk as it is written, so a killed run loses
    none (and a line that cannot be written whole is not left half-written)."""

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = Path(path)
        if append and self.path.is_file():
            kept = _complete_lines(self.path)
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))  # drop a half-written last line
        self._lines = LineAppender(self.path, append=append)

    def write(self, request: EvaluationRequest, evaluation: Evaluation) -> None:
        self._lines.append(evaluation_record(request, evaluation) + "\n")

    def close(self) -> None:
        self._lines.close()

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
