"""Figures of the cross-task comparison (nas_exp/analysis/cross_task.py), each saved as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nas_exp.analysis.cross_task import CrossTask, Friedman, cliques  # noqa: E402
from nas_exp.analysis.figures import plain_log_ticks, save  # noqa: E402

NORMALISED = "normalised regret\n(0 = table optimum, 1 = table's median configuration)"


def colors(optimizers: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {opt: cycle[i % len(cycle)] for i, opt in enumerate(sorted(optimizers))}


def subtitle(result: CrossTask) -> str:
    low, high = result.n_seeds
    seeds = f"{low} seeds" if low == high else f"{low}-{high} seeds"
    return f"{len(result.tasks)} tasks, {seeds} per optimizer and task"


def plot_average_rank(result: CrossTask, out_dir: Path) -> list[Path]:
    """Average rank (1 = best) over tasks of each optimizer's seed-mean normalised regret vs evaluations."""
    palette = colors(result.optimizers)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    final = result.ranks.iloc[-1].sort_values()
    for optimizer in final.index:
        ax.plot(result.ranks.index, result.ranks[optimizer], drawstyle="steps-post", color=palette[optimizer],
                label=f"{optimizer} ({final[optimizer]:.2f} at {result.ranks.index[-1]})")
    k = len(result.optimizers)
    ax.set_ylim(k + 0.1, 0.9)  # rank 1 (best) on top
    ax.set_yticks(range(1, k + 1))
    ax.set_xlabel("number of evaluations")
    ax.set_ylabel("average rank over tasks (1 = best)")
    ax.set_title(f"Average rank of the seed-mean incumbent regret, ties averaged\n{subtitle(result)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="optimizer\n(final average rank)", title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return save(fig, out_dir, "cross_task_rank")


def plot_normalised_regret(result: CrossTask, out_dir: Path) -> list[Path]:
    """Mean over tasks of the normalised incumbent regret vs evaluations, ± standard error over seeds, log y."""
    palette = colors(result.optimizers)
    fig, ax = plt.subplots(figsize=(6, 4))
    for optimizer, group in result.aggregate.groupby("optimizer"):
        x, mean, stderr = group["n"].to_numpy(), group["mean"].to_numpy(), group["stderr"].to_numpy()
        ax.plot(x, mean, drawstyle="steps-post", color=palette[optimizer],
                label=f"{optimizer} ({mean[-1]:.3f} ± {stderr[-1]:.3f})")
        lower = np.maximum(mean - stderr, mean * 0.05)
        ax.fill_between(x, lower, mean + stderr, step="post", alpha=0.2, color=palette[optimizer], linewidth=0)
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("number of evaluations")
    ax.set_ylabel(NORMALISED, fontsize=9)
    ax.set_title(f"Normalised regret, mean over tasks ± s.e. over seeds\n{subtitle(result)}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="optimizer (final mean ± s.e.)", title_fontsize=8)
    fig.tight_layout()
    return save(fig, out_dir, "cross_task_regret")


def plot_ecdf(result: CrossTask, out_dir: Path, linthresh: float = 1e-3) -> list[Path]:
    """Per optimizer the ECDF of the final normalised regret over all task x seed runs; symlog x (linear below
    ``linthresh``) so the runs that found the optimum (regret 0) show at x = 0."""
    palette = colors(result.optimizers)
    fig, ax = plt.subplots(figsize=(6, 4))
    n_final = int(result.curves["n"].max())
    for optimizer, group in result.ecdf.groupby("optimizer"):
        x = np.concatenate([[0.0], group["value"].to_numpy()])
        y = np.concatenate([[0.0], group["fraction"].to_numpy()])
        optimal = float(np.mean(group["value"].to_numpy() <= 0))
        ax.step(x, y, where="post", color=palette[optimizer],
                label=f"{optimizer} ({len(group)} runs, {optimal:.0%} at the optimum)")
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"final normalised regret after {n_final} evaluations\n(symlog axis: linear below {linthresh:g})")
    ax.set_ylabel("fraction of task × seed runs ≤ x")
    ax.set_title(f"ECDF of final normalised regret (higher / further left is better)\n{subtitle(result)}",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save(fig, out_dir, "cross_task_ecdf")


def plot_cd_diagram(test: Friedman, out_dir: Path, title: str) -> list[Path]:
    """Critical-difference diagram (Demsar 2006): mean ranks on an axis (1 = best, left), the Nemenyi critical
    difference as a bar, thick lines joining optimizers whose ranks do not differ significantly."""
    ranks = test.mean_ranks.sort_values()
    k = len(ranks)
    fig, ax = plt.subplots(figsize=(7, 1.5 + 0.32 * k))
    ax.set_xlim(0.5, k + 0.5)
    top = 0.0
    ax.hlines(top, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, top, top + 0.08, color="black", linewidth=1)
        ax.text(r, top + 0.12, str(r), ha="center", va="bottom", fontsize=9)
    half = (k + 1) // 2
    for i, (name, rank) in enumerate(ranks.items()):
        left = i < half
        y = -0.35 - 0.3 * (i if left else k - 1 - i)
        x_end = 0.6 if left else k + 0.4
        ax.plot([rank, rank, x_end], [top, y, y], color="black", linewidth=0.8)
        ax.text(x_end + (-0.02 if left else 0.02), y, f"{name} ({rank:.2f})", ha="right" if left else "left",
                va="center", fontsize=9)
    groups = cliques(ranks, test.critical_difference)
    for j, group in enumerate(groups):
        y = -0.12 - 0.1 * j
        ax.hlines(y, ranks[group[0]] - 0.03, ranks[group[-1]] + 0.03, color="black", linewidth=3)
    cd = test.critical_difference
    ax.hlines(top + 0.45, 1, 1 + cd, color="black", linewidth=1.5)
    ax.vlines([1, 1 + cd], top + 0.4, top + 0.5, color="black", linewidth=1.5)
    ax.text(1 + cd / 2, top + 0.52, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylim(-0.35 - 0.3 * (half - 1) - 0.15, top + 0.85)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, "cross_task_cd")


def cd_title(test: Friedman) -> str:
    verdict = "differ" if test.pvalue < test.alpha else "do not differ significantly"
    return (f"Mean rank of the seed-mean final normalised regret over {test.n_tasks} tasks (1 = best)\n"
            f"Friedman χ² = {test.statistic:.2f}, p = {test.pvalue:.2g}: the ranks {verdict};\nthick bars join "
            f"optimizers within Nemenyi's critical difference CD (α = {test.alpha:g}): not significantly different")


def cross_task_figures(result: CrossTask, out_dir: Path) -> list[Path]:
    written = plot_average_rank(result, out_dir) + plot_normalised_regret(result, out_dir)
    written += plot_ecdf(result, out_dir)
    if result.friedman is not None:
        written += plot_cd_diagram(result.friedman, out_dir, cd_title(result.friedman))
    return written


def display_final(final: pd.DataFrame) -> pd.DataFrame:
    """The final table as strings "mean ± s.e.", optimizers as rows, tasks as columns (``all tasks`` last)."""
    cells = final.apply(lambda row: f"{row['mean']:.3f} ± {row['stderr']:.3f}", axis=1).unstack("task")
    columns = [c for c in cells.columns if c != "all tasks"] + ["all tasks"]
    return cells[columns]
