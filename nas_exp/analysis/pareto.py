"""Pareto fronts of multi-objective runs: result.json's ``pareto_front``, a list of
``{arch, valid_acc, <cost metric>}`` (accuracy maximized, cost minimized)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nas_exp.analysis.sweep import Run
from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.errors import UserError

COST_METRICS: tuple[str, ...] = ("params", "flops", "latency")


def front_cost_metric(front: list[dict]) -> str:
    """The cost metric a front was searched with: the one of COST_METRICS its points carry."""
    found = [metric for metric in COST_METRICS if front and all(metric in point for point in front)]
    if len(found) != 1:
        raise UserError(f"pareto_front points need exactly one of {', '.join(COST_METRICS)}; found "
                         f"{', '.join(found) or 'none'}")
    return found[0]


def fronts_frame(runs: list[Run]) -> pd.DataFrame:
    """Every point of every run's ``pareto_front``: optimizer, dataset, seed, arch, valid_acc, cost_metric, cost.
    Empty (no rows) when no run is multi-objective."""
    rows = []
    for run in runs:
        front = run.result.get("pareto_front")
        if not front:
            continue
        metric = front_cost_metric(front)
        rows += [{"optimizer": run.info.optimizer, "dataset": run.info.dataset, "search_on": run.info.search_on,
                  "seed": run.info.seed, "arch": point.get("arch"), "valid_acc": float(point["valid_acc"]),
                  "cost_metric": metric, "cost": float(point[metric])} for point in front]
    return pd.DataFrame(rows, columns=["optimizer", "dataset", "search_on", "seed", "arch", "valid_acc",
                                       "cost_metric", "cost"])


def non_dominated(accuracy: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (higher or equal accuracy at lower or equal cost, one of them
    strictly), sorted by cost; of identical points the first is kept."""
    order = np.lexsort((-accuracy, cost))  # by cost, then best accuracy first
    kept, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            kept.append(i)
            best = accuracy[i]
    return np.array(kept, dtype=int)


def table_front(bench: NB201Benchmark, dataset: str, cost_metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(cost, valid_acc) of the table's true front on ``dataset``, or None where the source lacks the metric."""
    if not (bench.has(dataset, "valid_acc") and bench.has(dataset, cost_metric)):
        return None
    accuracy = bench.metric_array(dataset, "valid_acc")
    cost = bench.metric_array(dataset, cost_metric)
    ok = np.flatnonzero(~(np.isnan(accuracy) | np.isnan(cost)))
    front = ok[non_dominated(accuracy[ok], cost[ok])]
    return cost[front], accuracy[front]
