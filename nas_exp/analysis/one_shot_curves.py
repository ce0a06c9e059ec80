"""Search curves of one-shot runs: the table accuracy of the discretized cell after each search epoch, mean
and standard deviation over seeds, one curve per optimizer (the view of NB201's one-shot figures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nas_exp.analysis.sweep import Run
from nas_exp.one_shot.settings import OneShotSettings

ONE_SHOT_MARKER = "table_valid_acc"  # a trajectory column only one-shot runs write


@dataclass(frozen=True)
class SearchCurve:
    optimizer: str
    epochs: np.ndarray  # 1-based search epochs every seed reached
    mean: np.ndarray  # table validation accuracy [%] of the discretized cell, mean over seeds
    std: np.ndarray  # its standard deviation over seeds (0 with one seed)
    n_seeds: int


def is_one_shot_run(run: Run) -> bool:
    return ONE_SHOT_MARKER in run.trajectory.columns and "one_shot" in run.result


def table_dataset(run: Run) -> str:
    """Whose table validation accuracy the run's trajectory holds."""
    return str(run.result["one_shot"]["table_dataset"])


def table_source(run: Run) -> str:
    """The NB201 data source the run looked its cells up in (its optimizer config's, else the default)."""
    optimizer = (run.result.get("config") or {}).get("optimizer") or {}
    return str(optimizer.get("table_source", OneShotSettings.table_source))


def search_curves(runs: list[Run]) -> list[SearchCurve]:
    """One curve per optimizer over the epochs all its seeds reached (an early-stopped seed cuts the curve)."""
    curves = []
    for optimizer in sorted({run.label for run in runs}):
        mine = [run for run in runs if run.label == optimizer]
        length = min(len(run.trajectory) for run in mine)
        if length == 0:
            continue
        values = np.array([run.trajectory[ONE_SHOT_MARKER].to_numpy(dtype=float)[:length] for run in mine])
        curves.append(SearchCurve(optimizer, np.arange(1, length + 1), values.mean(axis=0),
                                  values.std(axis=0, ddof=1) if len(mine) > 1 else np.zeros(length), len(mine)))
    return curves
