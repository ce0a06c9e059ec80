"""Records for image datasets held in memory: uint8 images (N, C, H, W) with int64 labels, one record per split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nas_exp.errors import UserError


@dataclass(frozen=True)
class ImageSplit:
    """One split: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,) in 0..num_classes-1."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise UserError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise UserError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> ImageSplit:
        return ImageSplit(np.ascontiguousarray(self.images[indices]), np.ascontiguousarray(self.labels[indices]))


@dataclass(frozen=True)
class ImageDataset:
    """A dataset as NB201 uses it: the net trains on ``train``, the search sees accuracy on ``valid``, ``test`` is
    only reported. ``valid``/``test`` are None where the protocol has no such split (NB201's cifar10 has no
    validation split). ``mean``/``std`` are per channel in pixel units (0..255). ``crop_padding`` and ``flip`` are
    the dataset's standard augmentation (random crop after zero padding, random horizontal flip). ``note`` says
    where the splits deviate from NB201's (e.g. a seeded split because NB201's split file is absent)."""

    name: str
    train: ImageSplit
    valid: ImageSplit | None
    test: ImageSplit | None
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int
    flip: bool
    note: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]
