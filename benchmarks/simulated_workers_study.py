"""Sequential search against K simulated asynchronous workers on NB201: regret vs simulated wall clock.

    python benchmarks/simulated_workers_study.py [--workers 8] [--seeds 10] [--hours 24] [--out docs/figures]

Each optimizer runs once per seed with one worker (the sequential run) and once with K simulated workers
(``parallel.simulate_workers=K``: results told in order of simulated finish time), for the same simulated day on
cifar10-valid (validation accuracy, the mean of the table's seeds). Prints regret (table optimum minus the
incumbent's validation accuracy, mean ± standard error over seeds) at a few clock times and writes a figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.simulated_workers import run_simulated_workers

REPO = Path(__file__).resolve().parents[1]
OPTIMIZERS = ("random", "rea", "smac")
FLOOR = 1e-3  # the log axis's bottom: a regret of 0 (the optimum found) is drawn there


def regret_curve(rows, optimum: float, grid: np.ndarray) -> np.ndarray:
    """Regret at each clock time of ``grid`` (the incumbent of the last result finished by then)."""
    times = np.array([r.simulated_time for r in rows])
    regrets = np.array([optimum - r.incumbent_value for r in rows])
    at = np.searchsorted(times, grid, side="right") - 1
    return np.where(at >= 0, regrets[np.clip(at, 0, None)], np.nan)


def one_run(name: str, space, evaluator, seed: int, workers: int, budget: Budget):
    config = OmegaConf.load(REPO / "conf" / "optimizer" / f"{name}.yaml")
    with tempfile.TemporaryDirectory() as folder:
        optimizer = instantiate(config)(space.configspace, seed=seed, output_dir=Path(folder))
        if workers == 1:
            result = run_search(space, optimizer, evaluator, budget, seed)
        else:
            result = run_simulated_workers(space, optimizer, evaluator, budget, seed, n_workers=workers)
        optimizer.close()
    return result.rows


def mean_se(values: np.ndarray) -> str:
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return "-"
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "simulated_workers")
    args = parser.parse_args()
    space = NB201Space()
    evaluator = TabularEvaluator(space, "cifar10-valid", "cifar10-valid", budget_as_epochs=False)
    optimum = evaluator.optimum().value
    budget = Budget(max_simulated_seconds=args.hours * 3600)
    grid = np.linspace(0, args.hours * 3600, 289)[1:]
    curves: dict[tuple[str, int], np.ndarray] = {}
    counts: dict[tuple[str, int], list[int]] = {}
    started = time.perf_counter()
    for name in OPTIMIZERS:
        for workers in (1, args.workers):
            runs = [one_run(name, space, evaluator, seed, workers, budget) for seed in range(args.seeds)]
            curves[(name, workers)] = np.array([regret_curve(rows, optimum, grid) for rows in runs])
            counts[(name, workers)] = [len(rows) for rows in runs]
    elapsed = time.perf_counter() - started
    marks = [h for h in (1, 3, 6, 12, 24, 48) if h <= args.hours]
    table = Table(title=f"NB201 cifar10-valid: regret (validation accuracy, %) vs simulated clock, mean ± s.e. over "
                        f"{args.seeds} seeds; 1 worker vs {args.workers} simulated workers")
    for column in ["optimizer", "workers", "evaluations", *[f"@{h} h" for h in marks]]:
        table.add_column(column, justify="right")
    for (name, workers), curve in curves.items():
        cells = [mean_se(curve[:, int(np.argmin(abs(grid - h * 3600)))]) for h in marks]
        table.add_row(name, str(workers), f"{statistics.mean(counts[(name, workers)]):.0f}", *cells)
    Console(width=200).print(table)
    print(f"{len(curves) * args.seeds} runs in {elapsed:.1f} s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, name in enumerate(OPTIMIZERS):
        for workers, style in ((1, "--"), (args.workers, "-")):
            curve = curves[(name, workers)]
            started_all = ~np.isnan(curve).any(axis=0)  # from the first clock time every seed has a result
            curve = curve[:, started_all]
            mean = curve.mean(axis=0)
            se = curve.std(axis=0, ddof=1) / np.sqrt(len(curve))
            label = f"{name}, {'1 worker' if workers == 1 else f'{workers} simulated workers'}"
            hours = grid[started_all] / 3600
            ax.plot(hours, np.maximum(mean, FLOOR), style, color=f"C{i}", label=label)
            ax.fill_between(hours, np.maximum(mean - se, FLOOR), np.maximum(mean + se, FLOOR), color=f"C{i}",
                            alpha=0.15)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR, None)
    ax.set_xlabel("simulated wall clock [h]")
    ax.set_ylabel("regret: optimum - incumbent validation accuracy [%]")
    ax.set_title(f"NB201 cifar10-valid, mean ± s.e. over {args.seeds} seeds (bands below {FLOOR} cut off)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "simulated_workers.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
