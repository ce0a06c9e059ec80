"""Read a sweep (a Hydra multirun folder, or any folder holding run folders) into runs and tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nas_exp.analysis.run_info import RunInfo, hydra_optimizer_choice, run_info
from nas_exp.errors import UserError


class SweepError(UserError):
    """A sweep folder that cannot be analysed, in one line."""


@dataclass(frozen=True)
class Run:
    info: RunInfo
    run_dir: Path
    result: dict[str, Any]
    trajectory: pd.DataFrame = field(repr=False)

    @property
    def incumbent(self) -> dict[str, Any]:
        return self.result.get("incumbent") or {}


def find_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder``: those with both trajectory.csv and result.json."""
    return sorted(p.parent for p in Path(folder).rglob("result.json") if (p.parent / "trajectory.csv").is_file())


def load_run(run_dir: Path) -> Run:
    """One run folder. The optimizer's name: Hydra's choice (``.hydra/hydra.yaml``), else result.json's
    ``optimizer_name`` or ``optimizer``, else the config's ``optimizer_name`` or ``_target_`` class name."""
    run_dir = Path(run_dir)
    try:
        result = json.loads((run_dir / "result.json").read_text())
        config = result["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise SweepError(f"{run_dir / 'result.json'}: not a run result ({type(err).__name__}: {err})") from None
    named = result.get("optimizer_name") or result.get("optimizer")
    choice = hydra_optimizer_choice(run_dir) or (named if isinstance(named, str) else None)
    try:
        info = run_info(config, choice)
    except ValueError as err:
        raise SweepError(f"{run_dir / 'result.json'}: {err}") from None
    return Run(info=info, run_dir=run_dir, result=result, trajectory=pd.read_csv(run_dir / "trajectory.csv"))


def load_runs(folder: Path) -> list[Run]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SweepError(f"no such folder: {folder}")
    runs = [load_run(run_dir) for run_dir in find_runs(folder)]
    if not runs:
        raise SweepError(f"no run folders (trajectory.csv + result.json) under {folder}")
    return runs


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its identity and final incumbent."""
    return pd.DataFrame([{
        "optimizer": run.info.optimizer, "dataset": run.info.dataset, "seed": run.info.seed,
        "search_on": run.info.search_on, "report_on": run.info.report_on, "run_dir": str(run.run_dir),
        "n_evaluations": run.result.get("n_evaluations"), "simulated_time": run.result.get("simulated_time"),
        "arch": run.incumbent.get("arch"), "valid_acc": run.incumbent.get("valid_acc"),
        "test_acc": run.incumbent.get("test_acc"),
    } for run in runs])


def trajectories_frame(runs: list[Run]) -> pd.DataFrame:
    """Every run's trajectory rows, tagged with its optimizer, dataset and seed."""
    return pd.concat([run.trajectory.assign(optimizer=run.info.optimizer, dataset=run.info.dataset,
                                            seed=run.info.seed) for run in runs], ignore_index=True)


def load_sweep(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, trajectories) of :func:`runs_frame` and :func:`trajectories_frame`."""
    runs = load_runs(folder)
    return runs_frame(runs), trajectories_frame(runs)
