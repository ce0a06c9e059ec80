"""Pareto fronts of multi-objective runs: result.json's ``pareto_front``, a list of
``{arch, <search metric>, <cost metric>}`` (the search metric in its own direction, the cost minimised), with
``objectives`` naming the cost."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nas_exp.analysis.sweep import Run

from nas_exp.errors import UserError


def front_cost_metric(run: Run) -> str:
    """The cost metric a front was searched with: the run's second objective."""
    objectives = run.result.get("objectives") or []
    if len(objectives) != 2:
        raise UserError(f"{run.run_dir}: a pareto_front needs two objectives in result.json, found {objectives}")
    return str(objectives[1])


def fronts_frame(runs: list[Run]) -> pd.DataFrame:
    """Every point of every run's ``pareto_front``: optimizer, dataset, seed, arch, value (the search metric),
    maximize (its direction), cost_metric, cost. Empty (no rows) when no run is multi-objective."""
    rows = []
    for run in runs:
        front = run.result.get("pareto_front")
        if not front:
            continue
        metric, search = front_cost_metric(run), run.metrics.search
        rows += [{"optimizer": run.label, "dataset": run.info.dataset, "search_on": run.info.search_on,
                  "seed": run.info.seed, "arch": point.get("arch"), "value": float(point[search.name]),
                  "metric": search.label(), "maximize": search.maximize, "cost_metric": metric,
                  "cost": float(point[metric])} for point in front]
    return pd.DataFrame(rows, columns=["optimizer", "dataset", "search_on", "seed", "arch", "value", "metric",
                                       "maximize", "cost_metric", "cost"])


def non_dominated(value: np.ndarray, cost: np.ndarray, maximize: bool = True) -> np.ndarray:
    """Indices of the points no other point beats (a better or equal value at lower or equal cost, one of them
    strictly), sorted by cost; of identical points the first is kept."""
    score = value if maximize else -value
    order = np.lexsort((-score, cost))  # by cost, then best value first
    kept, best = [], -np.inf
    for i in order:
        if score[i] > best:
            kept.append(i)
            best = score[i]
    return np.array(kept, dtype=int)


def table_front(bench: Any, dataset: str, metric: str, maximize: bool,
                cost_metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(cost, value) of the table's true front on ``dataset``, or None where the source lacks a metric."""
    if not (bench.has(dataset, metric) and bench.has(dataset, cost_metric)):
        return None
    value = bench.metric_array(dataset, metric)
    cost = bench.metric_array(dataset, cost_metric)
    ok = np.flatnonzero(~(np.isnan(value) | np.isnan(cost)))
    front = ok[non_dominated(value[ok], cost[ok], maximize)]
    return cost[front], value[front]
