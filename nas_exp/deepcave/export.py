"""A nas-exp run folder as a SMAC 2.x run history (``deepcave/RUN_FOLDER_NAME/`` in the run folder), for
optimizers that do not write one themselves (``Optimizer.writes_run_history``: SMAC's do, in ``smac3/``).

It is built from what the run folder records, so it is the same at the end of a run, after an interruption and
after ``resume=true`` (a resumed run's files hold all its evaluations): ``trajectory.csv`` gives each
evaluation's architecture, budget, charged cost and simulated clock; ``evaluations.jsonl`` what the evaluator
returned, which the run's objective turns into the losses the optimizer was told (``100 - valid_acc`` for an
accuracy in %, the metric itself for an error such as MSE; plus e.g. ``params`` with ``objective=and_params``).

One trial per evaluation made: a repeat (a cell proposed again, served from the run's cache and charged again)
is not a new trial; it is counted in its trial's ``additional_info["repeats"]`` (SMAC's run history, and
DeepCAVE, keep one trial per configuration, budget and seed). Times are the simulated clock: a trial starts at
the simulated time before it and ends after its charged cost (``time``), so DeepCAVE's ``Time`` objective is
the simulated training time; the real seconds since the search started are ``additional_info["wall_time"]``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ConfigSpace import Configuration

from nas_exp.deepcave.runhistory import RUNHISTORY_FILE, SINGLE_OBJECTIVE, RunHistory, Scenario
from nas_exp.errors import UserError
from nas_exp.evaluation.base import Evaluation
from nas_exp.objectives.base import Objective
from nas_exp.resume import EVALUATIONS_FILE, TRAJECTORY_FILE, ResumeError, read_evaluations, request_key
from nas_exp.runner import EvaluationRequest
from nas_exp.search_spaces.base import SearchSpace
from nas_exp.trajectory import Columns, TrajectoryRow, read_trajectory

DEEPCAVE_DIR = "deepcave"


class ExportError(UserError):
    """A run folder that cannot be exported (reported as one line)."""


@dataclass(frozen=True)
class RunDescription:
    """What the export needs beside the run folder's files: the space (configurations of the recorded
    architectures), the objective (the losses), the trajectory's columns, and the run's optimizer and seed."""

    space: SearchSpace
    objective: Objective
    columns: Columns
    optimizer: str
    seed: int
    n_trials: int | None = None  # the evaluation budget, if the run had one


def row_config(space: SearchSpace, row: TrajectoryRow) -> Configuration:
    """The configuration of a trajectory row: its architecture's, with its training hyperparameters if any."""
    config = space.to_config(space.from_key(row.arch))
    if row.hyperparameters is None:
        return config
    return Configuration(space.configspace, values={**dict(config), **json.loads(row.hyperparameters)})


def row_evaluation(row: TrajectoryRow, evaluations: Mapping[str, Evaluation]) -> Evaluation | None:
    hyperparameters = None if row.hyperparameters is None else json.loads(row.hyperparameters)
    key = request_key(EvaluationRequest(arch=row.arch, key=row.arch, seed=0, n=row.n, epochs=row.epochs,
                                        hyperparameters=hyperparameters))
    return evaluations.get(key)


def scenario(description: RunDescription) -> Scenario:
    names = tuple(description.objective.names)
    metric = description.objective.metric
    objectives = names if len(names) > 1 else (SINGLE_OBJECTIVE,)
    loss = (f"{metric.bound:g} - {description.columns.search}" if metric.maximize and metric.bound is not None
            else f"-{description.columns.search}" if metric.maximize else description.columns.search)
    return Scenario(name=description.optimizer, objectives=objectives, seed=description.seed,
                    n_trials=description.n_trials,
                    meta={"nas_exp_optimizer": description.optimizer,
                          "nas_exp_objectives": ", ".join(names),
                          "nas_exp_loss": loss,
                          "nas_exp_time": "simulated seconds (the charged training cost); real ones: wall_time "
                                          "in additional_info"})


def run_history(run_dir: Path, description: RunDescription) -> RunHistory:
    """The run history of the evaluations recorded in ``run_dir`` (raises ``UserError`` for unreadable files)."""
    run_dir = Path(run_dir)
    rows = read_trajectory(run_dir / TRAJECTORY_FILE, description.columns)
    try:
        evaluations = read_evaluations(run_dir / EVALUATIONS_FILE)
    except ResumeError as err:  # its message speaks of resuming
        raise ExportError(str(err).replace("cannot resume", "cannot export", 1)) from None
    history = RunHistory(description.space.configspace, scenario(description))
    asked = Counter((row.arch, row.epochs, row.hyperparameters) for row in rows)
    clock = 0.0  # the simulated time before the row
    for row in rows:
        started, clock = clock, row.simulated_time
        if row.repeat:  # the same evaluation again, served from the run's cache: counted in its trial
            continue
        evaluation = row_evaluation(row, evaluations)
        if evaluation is None:
            raise ExportError(f"{run_dir / EVALUATIONS_FILE} has no record of evaluation {row.n} ({row.arch}); "
                              "the folder is incomplete, so it cannot be exported")
        additional: dict[str, Any] = {"n": row.n, description.columns.search: row.value,
                                      description.columns.report: row.test, "wall_time": row.wall_time,
                                      "repeats": asked[(row.arch, row.epochs, row.hyperparameters)] - 1}
        if evaluation.seed is not None:
            additional["table_seed"] = evaluation.seed
        history.add(row_config(description.space, row), cost=description.objective.loss(evaluation),
                    time=row.cost, starttime=started, endtime=row.simulated_time,
                    seed=description.seed, budget=row.epochs, origin=description.optimizer,
                    additional_info=additional)
    return history


def export_folder(run_dir: Path) -> Path:
    """``run_dir/deepcave/<run folder's name>/``: DeepCAVE names a run after its folder, so runs opened side by
    side are told apart by their run folders' names (``..._random_cifar10-valid_seed0``)."""
    run_dir = Path(run_dir).resolve()
    return run_dir / DEEPCAVE_DIR / run_dir.name


def export_run(run_dir: Path, description: RunDescription) -> Path | None:
    """Write ``export_folder(run_dir)`` (configspace.json, runhistory.json, scenario.json) and return it; None,
    writing nothing, while the run has no evaluation (DeepCAVE cannot open an empty run history). An export
    under another name (the run folder was renamed since) is removed: deepcave/ holds one run."""
    history = run_history(run_dir, description)
    if not history.trials:
        return None
    folder = history.write(export_folder(run_dir))
    for stale in folder.parent.iterdir():
        if stale != folder and stale.is_dir() and (stale / RUNHISTORY_FILE).is_file():
            shutil.rmtree(stale)
    return folder
