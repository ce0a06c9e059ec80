"""A dataset resident on the training device: uint8 images and labels as tensors, moved there once.

Batches are index slices of a per-epoch permutation drawn with the training's own generator on the device, so a
training step never touches the host (no DataLoader, no per-batch host -> device copy, no CPU augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nas_exp.datasets.images import ImageDataset, ImageSplit


@dataclass(frozen=True)
class DeviceSplit:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)

    @classmethod
    def from_split(cls, split: ImageSplit, device: torch.device) -> DeviceSplit:
        return cls(torch.from_numpy(split.images).to(device), torch.from_numpy(split.labels).to(device))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class DeviceData:
    """The splits of one dataset on ``device`` plus what training needs to know about them."""

    name: str
    train: DeviceSplit
    valid: DeviceSplit | None
    test: DeviceSplit | None
    num_classes: int
    mean: torch.Tensor  # float32 (1, C, 1, 1), pixel units
    std: torch.Tensor
    crop_padding: int
    flip: bool
    note: str = ""

    @classmethod
    def from_dataset(cls, dataset: ImageDataset, device: torch.device) -> DeviceData:
        def move(split: ImageSplit | None) -> DeviceSplit | None:
            return None if split is None else DeviceSplit.from_split(split, device)

        def channel_stat(values: tuple[float, ...]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.float32, device=device).view(1, -1, 1, 1)

        return cls(dataset.name, move(dataset.train), move(dataset.valid), move(dataset.test), dataset.num_classes,
                   channel_stat(dataset.mean), channel_stat(dataset.std), dataset.crop_padding, dataset.flip,
                   dataset.note)

    @property
    def device(self) -> torch.device:
        return self.train.images.device


def epoch_batches(size: int, batch_size: int, generator: torch.Generator, drop_last: bool) -> list[torch.Tensor]:
    """Index tensors of one epoch's batches: a random permutation of 0..size-1 (drawn with ``generator``, on its
    device) cut into chunks of ``batch_size``; the last, shorter chunk is dropped if ``drop_last``."""
    order = torch.randperm(size, generator=generator, device=generator.device)
    batches = list(torch.split(order, batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches
