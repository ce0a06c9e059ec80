"""Search batches from a device-resident dataset (``nas_exp.training.device_data``): shuffled, augmented train
batches for the weights, an endless stream of valid batches for the architecture, fixed valid batches for scoring.

Augmentation (random crop + flip, the dataset's standard) and normalization reuse ``nas_exp.training.augment``;
all randomness comes from one ``torch.Generator`` on the data's device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from nas_exp.errors import UserError
from nas_exp.training.augment import normalize, random_crop_flip
from nas_exp.training.device_data import DeviceData, DeviceSplit, epoch_batches

Batch = tuple[torch.Tensor, torch.Tensor]


class SearchBatches:
    """``batch_size``: train and architecture batches; ``eval_batch_size``: scoring batches. ``steps_per_epoch``:
    cap on the batches of one train epoch (None: all). ``augment``: crop + flip (the dataset's settings) on train
    and architecture batches; scoring batches are never augmented."""

    def __init__(self, data: DeviceData, batch_size: int, seed: int, *, eval_batch_size: int = 512,
                 augment: bool = True, steps_per_epoch: int | None = None) -> None:
        if data.valid is None:
            raise UserError(f"{data.name} has no validation split, so one-shot search (which trains the "
                             "architecture on it) cannot run on it; search on cifar10-valid")
        self.data, self.batch_size, self.eval_batch_size = data, batch_size, eval_batch_size
        self.steps_per_epoch = steps_per_epoch
        self.crop_padding, self.flip = (data.crop_padding, data.flip) if augment else (0, False)
        self.generator = torch.Generator(device=data.device)
        self.generator.manual_seed(seed)

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def in_channels(self) -> int:
        return int(self.data.train.images.shape[1])

    def _batch(self, split: DeviceSplit, index: torch.Tensor, augment: bool) -> Batch:
        images = split.images[index]
        if augment:
            images = random_crop_flip(images, self.crop_padding, self.flip, self.generator)
        return normalize(images, self.data.mean, self.data.std), split.labels[index]

    def train_epoch(self) -> Iterator[Batch]:
        """One shuffled pass over the train split (at most ``steps_per_epoch`` batches)."""
        batches = epoch_batches(len(self.data.train), self.batch_size, self.generator, drop_last=False)
        for index in batches[:self.steps_per_epoch]:
            yield self._batch(self.data.train, index, augment=True)

    def valid_stream(self) -> Iterator[Batch]:
        """Endless shuffled passes over the valid split (the architecture's data)."""
        valid: DeviceSplit = self.data.valid  # type: ignore[assignment]  # checked in __init__
        while True:
            for index in epoch_batches(len(valid), self.batch_size, self.generator, drop_last=False):
                yield self._batch(valid, index, augment=True)

    def eval_valid(self, limit: int | None = None) -> list[Batch]:
        """The first ``limit`` (None: all) valid batches of ``eval_batch_size``, in order, not augmented: the same
        images every call, so cells are compared on equal terms."""
        valid: DeviceSplit = self.data.valid  # type: ignore[assignment]
        starts = list(range(0, len(valid), self.eval_batch_size))[:limit]
        index = [torch.arange(s, min(s + self.eval_batch_size, len(valid)), device=self.device) for s in starts]
        return [self._batch(valid, i, augment=False) for i in index]

    def recalibration(self, n_batches: int) -> list[Batch]:
        """``n_batches`` shuffled, augmented train batches (for re-estimating BatchNorm statistics)."""
        stream = epoch_batches(len(self.data.train), self.batch_size, self.generator, drop_last=False)
        return [self._batch(self.data.train, index, augment=True) for index in stream[:n_batches]]
