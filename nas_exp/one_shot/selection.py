"""Choosing among candidate cells: rank by one-shot accuracy, optionally retrain the top k stand-alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from nas_exp.errors import UserError
from nas_exp.one_shot.records import Cell, Scored

Retrain = Callable[[Cell], float]  # a cell -> its validation accuracy (%) after stand-alone training


def rank_cells(cells: Iterable[Cell], score: Callable[[Cell], float]) -> list[Scored]:
    """Each distinct cell scored once, best first (ties keep the given order)."""
    scored = [Scored(arch, score(arch)) for arch in dict.fromkeys(cells)]
    if not scored:
        raise UserError("no candidate cells to rank")
    return sorted(scored, key=lambda s: -s.oneshot_valid_acc)


def retrain_top(ranked: list[Scored], k: int, retrain: Retrain | None) -> list[Scored]:
    """The top ``k`` retrained and re-ordered by their trained accuracy, followed by the rest (unchanged when k
    is 0)."""
    if k == 0:
        return ranked
    if retrain is None:
        raise UserError("retrain_top_k > 0 needs a train-mode evaluator to retrain with")
    top = [dataclasses.replace(s, retrained_valid_acc=float(retrain(s.arch))) for s in ranked[:k]]
    top.sort(key=lambda s: -s.retrained_valid_acc)  # type: ignore[operator]
    return top + ranked[k:]
