"""The DeepCAVE-readable folder of an existing run folder: SMAC's own run history (``smac3/smac/SEED/``) for an
optimizer that writes one, else ``deepcave/``, exported from the run's files. The run's space, objective and
metrics are rebuilt from its ``config.json`` (and ``result.json``'s metrics record; a run interrupted before it
was written has its evaluator built from the config, which needs the run's data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nas_exp.blackbox import trajectory_columns
from nas_exp.components import build, declared
from nas_exp.deepcave.export import ExportError, RunDescription, export_run
from nas_exp.deepcave.runhistory import RUNHISTORY_FILE
from nas_exp.resume import CONFIG_FILE, RESULT_FILE, TRAJECTORY_FILE
from nas_exp.run_metrics import RunMetrics

SMAC_DIR = "smac3"


@dataclass(frozen=True)
class DeepCAVEFolder:
    """Where DeepCAVE opens a run: ``folder``; ``exported``: written now (False: the optimizer's own)."""

    run_dir: Path
    folder: Path
    exported: bool


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ExportError(f"{path.parent}: no {path.name} ({what}); pass a nas-exp run folder, the one with "
                          f"{TRAJECTORY_FILE} and {CONFIG_FILE}") from None
    except (OSError, ValueError) as err:
        raise ExportError(f"{path}: cannot be read ({err}); is the run folder complete?") from None


def run_description(run_dir: Path, config: dict[str, Any]) -> RunDescription:
    """Space, objective, columns, optimizer name and seed of a black-box run, from its recorded config."""
    result = _read_json(run_dir / RESULT_FILE, "the result") if (run_dir / RESULT_FILE).is_file() else {}
    try:
        space = build(OmegaConf.create(config["search_space"]))
        if "metrics" in result:
            metrics = RunMetrics.from_record(result["metrics"])
            metric, columns = metrics.search, metrics.columns
        else:  # interrupted before result.json: the evaluator declares its metrics
            evaluator = build(OmegaConf.create(config["evaluation"]), space=space,
                              search_on=config["dataset"]["search_on"], report_on=config["dataset"]["report_on"])
            metric, columns = evaluator.search_metric, trajectory_columns(evaluator)
        objective = build(OmegaConf.create(config["objective"]), _partial_=True)(metric=metric)
        optimizer = OmegaConf.create(config["optimizer"])
        budget = config.get("budget", {})
    except (KeyError, TypeError) as err:
        raise ExportError(f"{run_dir / CONFIG_FILE} lacks {err} (it was written by another version of nas-exp); "
                          "cannot export this run") from None
    name = result.get("optimizer") or declared(optimizer, "name", "optimizer")
    return RunDescription(space=space, objective=objective, columns=columns, optimizer=str(name),
                          seed=int(config["seed"]), n_trials=budget.get("max_evaluations"))


def smac_folder(run_dir: Path) -> Path:
    found = sorted((run_dir / SMAC_DIR).glob(f"**/{RUNHISTORY_FILE}"))
    if not found:
        raise ExportError(f"{run_dir}: its optimizer writes its own run history to {SMAC_DIR}/, but there is none "
                          "there (was the folder copied without it?)")
    return found[0].parent


def deepcave_folder(run_dir: Path | str) -> DeepCAVEFolder:
    """The folder DeepCAVE opens for ``run_dir``, exporting it (``deepcave/``) where the optimizer writes none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir}: no such folder; pass a nas-exp run folder (the one with {TRAJECTORY_FILE})")
    config = _read_json(run_dir / CONFIG_FILE, "the config the run started with").get("config")
    if not isinstance(config, dict) or not isinstance(config.get("optimizer"), dict):
        raise ExportError(f"{run_dir / CONFIG_FILE} holds no run config; pass a nas-exp run folder")
    optimizer = config["optimizer"]
    if optimizer.get("kind") == "one_shot":
        raise ExportError(f"{run_dir}: a one-shot run ({optimizer.get('_target_')}) has no run history of "
                          "evaluated configurations; only black-box runs can be opened in DeepCAVE")
    if declared(OmegaConf.create(optimizer), "writes_run_history", False):
        return DeepCAVEFolder(run_dir, smac_folder(run_dir), exported=False)
    if not (run_dir / TRAJECTORY_FILE).is_file():
        raise ExportError(f"{run_dir}: no {TRAJECTORY_FILE}; the run made no evaluation to export")
    folder = export_run(run_dir, run_description(run_dir, config))
    if folder is None:
        raise ExportError(f"{run_dir}: its {TRAJECTORY_FILE} has no evaluation yet; nothing to open in DeepCAVE")
    return DeepCAVEFolder(run_dir, folder, exported=True)
