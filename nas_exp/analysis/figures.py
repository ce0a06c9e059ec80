"""Figures of a sweep: anytime regret curves, Pareto fronts and one-shot search curves, each saved as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from nas_exp.analysis.anytime import Curve, RegretProtocol  # noqa: E402
from nas_exp.analysis.one_shot_curves import SearchCurve  # noqa: E402
from nas_exp.benchmarks.base import Metric  # noqa: E402

COST_LABELS = {"params": ("parameters [M]", 1.0), "flops": ("FLOPs [M]", 1.0), "latency": ("latency [ms]", 1e3)}


def save(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in ("png", "pdf"):
        path = out_dir / f"{stem}.{suffix}"
        fig.savefig(path, dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths


def plain_log_ticks(axis: matplotlib.axis.Axis) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as plain numbers (0.5, 1, 2, 5, 10), no crowded minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def regret_floor(curves: list[Curve]) -> float | None:
    """Where a regret of 0 is drawn on the log axis (the power of ten just below the smallest positive mean), or
    None when every mean is positive."""
    means = np.concatenate([c.mean for c in curves]) if curves else np.array([])
    if means.size == 0 or np.all(means > 0):
        return None
    positive = means[means > 0]
    smallest = positive.min() if positive.size else 1.0
    return float(10 ** (np.ceil(np.log10(smallest)) - 1))


def plot_anytime(curves: list[Curve], axis: str, metric: Metric, space: str, dataset: str,
                 out_dir: Path, protocol: RegretProtocol | None = None) -> list[Path]:
    """Mean regret ± standard error per optimizer, log y; vs simulated hours (log x when the curves span more
    than a decade) or vs evaluations. A regret of 0 (the optimum found) is drawn at a marked floor line.
    ``protocol``: the runs searched on another signal than the regret is measured on (the hp12 protocol); the
    axis then names the regret's epochs and the title the search signal."""
    fig, ax = plt.subplots(figsize=(6, 4))
    floor = regret_floor(curves)
    low = floor if floor is not None else 0.0
    scale = 3600.0 if axis == "time" else 1.0
    for curve in curves:
        x = curve.x / scale
        mean = np.maximum(curve.mean, low) if floor is not None else curve.mean
        seeds = "seed" if curve.n_seeds == 1 else "seeds"
        line, = ax.plot(x, mean, label=f"{curve.optimizer} ({curve.n_seeds} {seeds})",
                        drawstyle="steps-post")
        lower = np.maximum(curve.mean - curve.stderr, floor if floor is not None else curve.mean * 0.01)
        ax.fill_between(x, lower, np.maximum(curve.mean + curve.stderr, lower), alpha=0.2, color=line.get_color(),
                        linewidth=0, step="post")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    if floor is not None:
        ax.axhline(floor, color="0.4", linestyle=":", linewidth=1)
        ax.annotate("regret 0 (optimum found)", (0.01, floor), xycoords=("axes fraction", "data"),
                    xytext=(2, 2), textcoords="offset points", ha="left", va="bottom", fontsize=8, color="0.3")
    if axis == "time":
        spans = [c.x[-1] / c.x[0] for c in curves if len(c.x) and c.x[0] > 0]
        if spans and max(spans) > 10:
            ax.set_xscale("log")
            plain_log_ticks(ax.xaxis)
        ax.set_xlabel("simulated training time [h]")
    else:
        ax.set_xlabel("number of evaluations")
    unit = "% points" if metric.unit == "%" else metric.unit
    measured = metric.name if protocol is None else f"{protocol.measured} {metric.name}"
    ax.set_ylabel(f"regret of {measured}" + (f" [{unit}]" if unit else ""))
    gap = "optimum − incumbent" if metric.maximize else "incumbent − optimum"
    below = "mean ± standard error over seeds" if protocol is None else \
        f"searched on {protocol.searched}; mean ± s.e. over seeds"
    ax.set_title(f"{space} {dataset}: {gap} {measured}\n{below}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, f"anytime_{'time' if axis == 'time' else 'evals'}_{dataset}")


def plot_pareto(points: pd.DataFrame, reference: tuple[np.ndarray, np.ndarray] | None, dataset: str,
                cost_metric: str, value_label: str, out_dir: Path, fronts: dict[str, np.ndarray]) -> list[Path]:
    """The search metric vs cost: every run's front points (faint), each optimizer's front over all seeds
    (``fronts``: row positions in ``points`` per optimizer, sorted by cost), and the table's true front."""
    label, factor = COST_LABELS.get(cost_metric, (cost_metric, 1.0))
    fig, ax = plt.subplots(figsize=(6, 4))
    if reference is not None:
        ax.step(reference[0] * factor, reference[1], where="post", color="0.5", linestyle="--", linewidth=1,
                label="true front (table)")
    for optimizer, per_optimizer in points.groupby("optimizer", sort=True):
        seeds = per_optimizer["seed"].nunique()
        best = points.loc[fronts[optimizer]]
        line, = ax.step(best["cost"] * factor, best["value"], where="post", marker="o", markersize=4,
                        label=f"{optimizer} ({seeds} {'seed' if seeds == 1 else 'seeds'})")
        ax.scatter(per_optimizer["cost"] * factor, per_optimizer["value"], s=10, alpha=0.35,
                   color=line.get_color())
    ax.set_xlabel(label)
    ax.set_ylabel(value_label)
    ax.set_title(f"{dataset}: Pareto fronts ({value_label} vs {cost_metric})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return save(fig, out_dir, f"pareto_{dataset}_{cost_metric}")


def plot_search_curves(curves: list[SearchCurve], table_dataset: str, optimum: float, dataset: str,
                       out_dir: Path) -> list[Path]:
    """One-shot runs: the discretized cell's table validation accuracy per search epoch, mean ± std over seeds,
    with the table's best cell as a reference line."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for curve in curves:
        seeds = "seed" if curve.n_seeds == 1 else "seeds"
        line, = ax.plot(curve.epochs, curve.mean, marker="o", markersize=3,
                        label=f"{curve.optimizer} ({curve.n_seeds} {seeds})")
        ax.fill_between(curve.epochs, curve.mean - curve.std, curve.mean + curve.std, alpha=0.2,
                        color=line.get_color(), linewidth=0)
    ax.axhline(optimum, color="0.4", linestyle="--", linewidth=1, label=f"best cell in the table ({optimum:.2f}%)")
    ax.set_xlabel("search epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"{table_dataset} validation accuracy [%]")
    ax.set_title(f"one-shot on {dataset}: the discretized cell in NB201's {table_dataset} table\n"
                 "mean ± std over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return save(fig, out_dir, f"one_shot_{dataset}")
