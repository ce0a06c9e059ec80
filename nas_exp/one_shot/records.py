"""What a one-shot search reports: per epoch, per ranked candidate, and in the end."""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Hashable

Cell = Hashable  # a discrete cell: the searched space's own architecture (``SupernetLayout.cell``)


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based: search epochs done
    arch: Cell  # the discretized cell after this epoch (the final cell on the last row)
    oneshot_valid_acc: float  # %, the supernet restricted to ``arch`` on the scoring valid batches
    train_loss: float  # mean loss of the epoch's weight steps
    train_seconds: float  # seconds of the epoch's weight (and architecture) steps
    wall_time: float  # seconds since the search started, after scoring
    hessian_eigenvalue: float | None = None  # dominant eigenvalue of the valid loss' Hessian w.r.t. alphas


@dataclass(frozen=True)
class Scored:
    """A candidate cell ranked by a search: its one-shot accuracy, and its accuracy after stand-alone training
    when the top candidates were retrained (``retrain_top_k``)."""

    arch: Cell
    oneshot_valid_acc: float
    retrained_valid_acc: float | None = None


@dataclass(frozen=True)
class SearchOutcome:
    arch: Cell  # the final discretized cell
    epochs: int  # search epochs run
    stop_reason: str
    candidates: tuple[Scored, ...]  # ranked candidates of the final selection (empty for argmax methods)
    records: tuple[EpochRecord, ...]
