"""Anytime curve: incumbent validation accuracy vs simulated time, mean and standard error over seeds."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def incumbent_on_grid(trajectory: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """The incumbent's valid accuracy at each simulated time in ``grid`` (NaN before the first evaluation)."""
    times = trajectory["simulated_time"].to_numpy()
    values = trajectory["incumbent_valid_acc"].to_numpy()
    positions = np.searchsorted(times, grid, side="right") - 1
    return np.where(positions >= 0, values[np.clip(positions, 0, None)], np.nan)


def plot_anytime(trajectories: pd.DataFrame, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset, per_dataset in trajectories.groupby("dataset"):
        fig, ax = plt.subplots(figsize=(6, 4))
        end = per_dataset["simulated_time"].max()
        grid = np.linspace(0, end, 400)[1:]
        for optimizer, per_optimizer in per_dataset.groupby("optimizer"):
            curves = np.array([incumbent_on_grid(run, grid) for _, run in per_optimizer.groupby("seed")])
            with warnings.catch_warnings():  # grid points before a seed's first evaluation are NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(curves, axis=0)
                stderr = np.nanstd(curves, axis=0) / np.sqrt(np.sum(~np.isnan(curves), axis=0).clip(1))
            ax.plot(grid / 3600, mean, label=f"{optimizer} ({len(curves)} seeds)")
            ax.fill_between(grid / 3600, mean - stderr, mean + stderr, alpha=0.25)
        ax.set_xlabel("simulated training time [h]")
        ax.set_ylabel("incumbent validation accuracy [%]")
        ax.set_title(f"NB201 {dataset}: anytime performance (mean ± s.e.)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        for suffix in ("png", "pdf"):
            path = out_dir / f"anytime_{dataset}.{suffix}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)
    return written
