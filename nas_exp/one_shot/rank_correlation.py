"""How well the supernet ranks cells: Kendall's tau and Spearman's rho between one-shot validation accuracy and
stand-alone accuracy (the space's table), over a sample of cells."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from nas_exp.errors import UserError
from nas_exp.one_shot.records import Cell


@dataclass(frozen=True)
class RankCorrelation:
    kendall_tau: float | None  # None: fewer than 2 cells with both values, or a constant list
    spearman_rho: float | None
    n_cells: int  # cells with both values
    cells: tuple[dict[str, Any], ...] = field(default=())  # arch, oneshot_valid_acc, table_valid_acc per cell

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cells": list(self.cells)}


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _statistic(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def rank_correlation(oneshot: Sequence[float | None], table: Sequence[float | None]) -> RankCorrelation:
    """Kendall's tau-b and Spearman's rho over the pairs where both values are known."""
    if len(oneshot) != len(table):
        raise UserError(f"rank correlation needs equally long lists, got {len(oneshot)} and {len(table)}")
    pairs = [(a, b) for a, b in zip(oneshot, table) if _finite(a) and _finite(b)]
    if len(pairs) < 2:
        return RankCorrelation(None, None, len(pairs))
    x, y = np.array(pairs, dtype=float).T
    if np.all(x == x[0]) or np.all(y == y[0]):
        return RankCorrelation(None, None, len(pairs))
    return RankCorrelation(_statistic(stats.kendalltau(x, y).statistic), _statistic(stats.spearmanr(x, y).statistic),
                           len(pairs))


def cell_rank_correlation(cells: Sequence[Cell], oneshot_acc: Callable[[Cell], float],
                          table_acc: Callable[[Cell], float | None], key: Callable[[Cell], str]) -> RankCorrelation:
    """Score each cell both ways and correlate; the per-cell values (cells named by ``key``) ride along."""
    oneshot = [oneshot_acc(arch) for arch in cells]
    table = [table_acc(arch) for arch in cells]
    found = rank_correlation(oneshot, table)
    rows = tuple({"arch": key(arch), "oneshot_valid_acc": o, "table_valid_acc": t}
                 for arch, o, t in zip(cells, oneshot, table))
    return RankCorrelation(found.kendall_tau, found.spearman_rho, found.n_cells, rows)
