"""The training recipe: NB201's by default (``configs/nas-benchmark/hyper-opts/200E.config``), every field
overridable from the config or, for a joint architecture + hyperparameter search, per evaluation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nas_exp.checks import require_int
from nas_exp.errors import UserError


@dataclass(frozen=True)
class TrainRecipe:
    """SGD with Nesterov momentum, cosine learning rate from ``learning_rate`` to ``min_learning_rate`` over
    ``epochs`` epochs (stepped once per epoch, as NB201 does), cross-entropy loss, random crop + horizontal flip.

    ``epochs`` is the length of the schedule, i.e. of a full training. Training fewer epochs (a lower fidelity)
    follows the first epochs of this same schedule, which is how NB201's per-epoch results arise.
    ``crop_padding`` / ``flip`` None take the dataset's standard (CIFAR: 4 / yes, ImageNet16: 2 / yes, digits: 1 /
    no); ``augment=False`` turns both off.
    """

    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 0.1
    min_learning_rate: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    augment: bool = True
    crop_padding: int | None = None
    flip: bool | None = None
    drop_last: bool = False
    eval_batch_size: int = 1024
    steps_per_epoch: int | None = None  # at most this many batches per epoch (smoke runs); None: the whole split

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            require_int(getattr(self, name), f"recipe.{name}")
        for name in ("learning_rate", "min_learning_rate", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise UserError(f"recipe.{name} must be a number >= 0, got {value!r}")
        if self.learning_rate <= 0:
            raise UserError(f"recipe.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.nesterov and self.momentum <= 0:
            raise UserError("recipe.nesterov needs recipe.momentum > 0")
        if self.crop_padding is not None and (not isinstance(self.crop_padding, int) or self.crop_padding < 0):
            raise UserError(f"recipe.crop_padding must be null or an int >= 0, got {self.crop_padding!r}")
        if self.steps_per_epoch is not None:
            require_int(self.steps_per_epoch, "recipe.steps_per_epoch (or null for whole epochs)")

    def updated(self, values: Mapping[str, Any] | None) -> TrainRecipe:
        """A copy with ``values`` replacing fields (e.g. a search's learning_rate and weight_decay)."""
        if not values:
            return self
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self))
            raise UserError(f"unknown training recipe key(s) {', '.join(unknown)}; valid: {valid}")
        return dataclasses.replace(self, **dict(values))

    def as_dict(self) -> dict[str, Any]:
        """The fields; ``steps_per_epoch`` only when set, so keys of whole-epoch trainings (checkpoint names)
        are the ones they were before the field existed."""
        values = dataclasses.asdict(self)
        if values["steps_per_epoch"] is None:
            del values["steps_per_epoch"]
        return values
