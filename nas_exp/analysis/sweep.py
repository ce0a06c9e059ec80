"""Read a sweep (Hydra multirun folder, or any folder holding run folders) into tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def find_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder``: those with both trajectory.csv and result.json."""
    return sorted(p.parent for p in Path(folder).rglob("result.json") if (p.parent / "trajectory.csv").is_file())


def load_sweep(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, trajectories): one row per run (optimizer, dataset, seed, final incumbent), and every run's
    trajectory rows tagged with its optimizer, dataset and seed."""
    runs, trajectories = [], []
    for run_dir in find_runs(folder):
        result = json.loads((run_dir / "result.json").read_text())
        config = result["config"]
        key = {
            "optimizer": config["optimizer"]["_target_"].rsplit(".", 1)[-1],
            "dataset": config["dataset"]["name"],
            "seed": config["seed"],
        }
        incumbent = result["incumbent"] or {}
        runs.append({**key, "run_dir": str(run_dir), "n_evaluations": result["n_evaluations"],
                     "simulated_time": result["simulated_time"], "valid_acc": incumbent.get("valid_acc"),
                     "test_acc": incumbent.get("test_acc"), "arch": incumbent.get("arch")})
        frame = pd.read_csv(run_dir / "trajectory.csv")
        trajectories.append(frame.assign(**key))
    if not runs:
        raise FileNotFoundError(f"no run folders (trajectory.csv + result.json) under {folder}")
    return pd.DataFrame(runs), pd.concat(trajectories, ignore_index=True)


def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the final incumbent's accuracies, per optimizer and dataset."""
    grouped = runs.groupby(["dataset", "optimizer"])
    table = grouped[["valid_acc", "test_acc"]].agg(["mean", "std"])
    table[("n_seeds", "")] = grouped.size()
    return table
