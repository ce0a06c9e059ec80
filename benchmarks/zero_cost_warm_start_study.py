"""BANANAS against BANANAS with a zero-cost warm start (``optimizer=bananas_zc``) on NB201: regret after 10, 20 and
50 evaluations.

    python benchmarks/zero_cost_warm_start_study.py [--seeds 20] [--evaluations 50] [--dataset cifar10-valid]

Each optimizer runs once per seed through the real run path (Hydra composition, ``run_experiment``), on the table's
validation accuracy (the mean over its seeds). The warm start reads the proxy cache when it is built (``python -m
nas_exp.proxies build --space nb201``), else computes its pool's proxies (about 6 s per run). Prints regret (the
table optimum minus the incumbent, accuracy points) as mean ± standard error over seeds, and the paired difference
(warm start minus plain, per seed) with its standard error and a Wilcoxon signed-rank p-value.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from rich.console import Console
from rich.table import Table
from scipy import stats

from nas_exp.app import run_experiment

REPO = Path(__file__).resolve().parents[1]
OPTIMIZERS = ("bananas", "bananas_zc")
CHECKPOINTS = (10, 20, 50)


def incumbents(optimizer: str, seed: int, n: int, dataset: str) -> tuple[np.ndarray, float]:
    """The incumbent's validation accuracy after each evaluation, and the table's optimum."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"optimizer={optimizer}", f"seed={seed}", f"dataset={dataset}",
                                           f"budget.max_evaluations={n}", "progress=false"])
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        result = run_experiment(cfg, run_dir)
        with open(run_dir / "trajectory.csv", newline="") as handle:
            values = np.array([float(row["incumbent_valid_acc"]) for row in csv.DictReader(handle)])
    return values, float(result["metrics"]["optimum"]["value"])


def mean_se(values: np.ndarray) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--evaluations", type=int, default=50)
    parser.add_argument("--dataset", default="cifar10-valid")
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c <= args.evaluations]
    regrets = {name: np.zeros((args.seeds, len(checkpoints))) for name in OPTIMIZERS}
    for name in OPTIMIZERS:
        for seed in range(args.seeds):
            values, optimum = incumbents(name, seed, args.evaluations, args.dataset)
            regrets[name][seed] = [optimum - values[c - 1] for c in checkpoints]
    table = Table(title=f"NB201 {args.dataset}: regret (accuracy points), mean ± s.e. over {args.seeds} seeds")
    table.add_column("after")
    for name in OPTIMIZERS:
        table.add_column(name, justify="right")
    table.add_column("paired zc - plain", justify="right")
    table.add_column("Wilcoxon p", justify="right")
    for j, c in enumerate(checkpoints):
        plain, warm = regrets["bananas"][:, j], regrets["bananas_zc"][:, j]
        diff = warm - plain
        p = stats.wilcoxon(warm, plain).pvalue if np.any(diff != 0) else 1.0
        table.add_row(f"{c} evaluations", mean_se(plain), mean_se(warm), mean_se(diff), f"{p:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
