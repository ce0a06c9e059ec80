"""Anytime curves: the incumbent's regret (table optimum minus incumbent) against simulated time or the number
of evaluations, mean and standard error over seeds, one curve per optimizer."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nas_exp.analysis.sweep import Run
from nas_exp.errors import UserError

AXES = ("time", "evaluations")


@dataclass(frozen=True)
class RegretProtocol:
    """Runs whose optimizer saw another signal than their regret is measured on (``evaluation.search_source``,
    e.g. the NB201 paper's 12-epoch validation accuracy while the incumbent is judged after 200 epochs)."""

    measured: str  # e.g. "200-epoch": what the incumbent's value (and the optimum) are
    searched: str  # e.g. "12-epoch valid_acc (nb201-hp12)": what the optimizer saw


SEARCH_SIGNAL = re.compile(r"(\S+) of (\S+) \((\d+) epochs\)")  # TabularEvaluator.description's search signal


def regret_protocol(run: Run, total_epochs: int | None) -> RegretProtocol | None:
    """The run's :class:`RegretProtocol`, or None when it searched on what its regret is measured on.
    ``total_epochs``: its reported table's training length (used unless the run fixed ``evaluation.epoch``)."""
    evaluation = (run.result.get("config") or {}).get("evaluation") or {}
    source = evaluation.get("search_source")
    if not source:
        return None
    epochs = evaluation.get("epoch") or total_epochs
    found = SEARCH_SIGNAL.search(str(run.result.get("evaluation") or ""))
    searched = f"{found.group(3)}-epoch {found.group(1)} ({found.group(2)})" if found else f"{source}'s signal"
    return RegretProtocol(measured=f"{epochs}-epoch" if epochs else f"{run.info.source or 'reported'}",
                          searched=searched)


@dataclass(frozen=True)
class Curve:
    optimizer: str
    x: np.ndarray  # simulated seconds, or evaluation counts
    mean: np.ndarray  # mean regret over seeds, in the metric's unit (percentage points for accuracies)
    stderr: np.ndarray  # standard error of that mean (0 with one seed)
    n_seeds: int


def regret_metric(runs: list[Run]) -> str:
    """``test`` when every run reports its report metric and the table knows its optimum, else ``valid`` (the
    search metric)."""
    has_test = all(run.metrics.optimum_test is not None
                   and incumbent_rows(run)[run.metrics.incumbent_test_column].notna().all() for run in runs)
    return "test" if has_test else "valid"


def incumbent_rows(run: Run) -> pd.DataFrame:
    """The trajectory rows after which the run has an incumbent (multi-fidelity runs have none until their first
    evaluation at the top fidelity)."""
    return run.trajectory[run.trajectory[run.metrics.incumbent_column].notna()]


def regret(run: Run, metric: str) -> np.ndarray:
    """Regret of the incumbent after each evaluation of ``run`` that has one (:func:`incumbent_rows`), in the
    metric's own direction: the table's optimum minus the incumbent for an accuracy, the other way round for an
    error."""
    m = run.metrics
    if metric == "test":
        column, best, spec = m.incumbent_test_column, m.optimum_test, m.report_metric
    else:
        column, best, spec = m.incumbent_column, m.optimum_value, m.search
    values = incumbent_rows(run)[column].to_numpy(dtype=float)
    return (best - values) if spec.maximize else (values - best)


def step_values(xs: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The value of the last point at or before each grid x (NaN before the first point)."""
    positions = np.searchsorted(xs, grid, side="right") - 1
    return np.where(positions >= 0, values[np.clip(positions, 0, None)], np.nan)


def mean_stderr(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over rows and its standard error (sample std / sqrt(n); 0 for one row)."""
    mean = curves.mean(axis=0)
    if len(curves) < 2:
        return mean, np.zeros_like(mean)
    return mean, curves.std(axis=0, ddof=1) / np.sqrt(len(curves))


def x_values(run: Run, axis: str) -> np.ndarray:
    """Where each of :func:`regret`'s values starts: simulated seconds or evaluation count."""
    column = "simulated_time" if axis == "time" else "n"
    return incumbent_rows(run)[column].to_numpy(dtype=float)


def shared_grid(runs: list[Run], axis: str, n_points: int = 300) -> np.ndarray:
    """x values where every run has evaluated at least once, up to the longest run: whole evaluation counts, or
    simulated times spaced evenly in log time. Every run needs one evaluation."""
    first = max(x_values(run, axis)[0] for run in runs)
    last = max(x_values(run, axis)[-1] for run in runs)
    if axis == "evaluations":
        return np.arange(first, last + 1)
    return np.unique(np.geomspace(first, last, n_points)) if last > first else np.array([first])


def anytime_curves(runs: list[Run], metric: str, axis: str) -> list[Curve]:
    """One curve per optimizer (per group: ``Run.label``) over the runs of one dataset. Each curve stops at its
    shortest seed's last evaluation, so every point is a mean over all seeds (nothing is extrapolated past a run's
    end)."""
    if axis not in AXES:
        raise UserError(f"unknown axis {axis!r}; valid: {', '.join(AXES)}")
    by_optimizer: dict[str, list[Run]] = {}
    order: dict[str, tuple] = {}  # by optimizer, then group values (budget 5 before 10)
    for run in runs:
        if len(incumbent_rows(run)):
            by_optimizer.setdefault(run.label, []).append(run)
            order[run.label] = (run.info.optimizer, tuple(value for _, value in run.group))
    if not by_optimizer:
        return []
    grid = shared_grid([run for group in by_optimizer.values() for run in group], axis)
    curves = []
    for optimizer in sorted(by_optimizer, key=lambda label: (order[label], label)):
        group = by_optimizer[optimizer]
        end = min(x_values(run, axis)[-1] for run in group)
        x = grid[grid <= end]
        values = np.array([step_values(x_values(run, axis), regret(run, metric), x) for run in group])
        mean, stderr = mean_stderr(values)
        curves.append(Curve(optimizer=optimizer, x=x, mean=mean, stderr=stderr, n_seeds=len(group)))
    return curves
