"""CIFAR-10 and CIFAR-100 from the official python pickle batches (no torchvision).

CIFAR-10: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch`` with ``data`` (N, 3072) uint8 in planar RGB
order and ``labels``. CIFAR-100: ``cifar-100-python/train`` and ``test`` with ``data`` and ``fine_labels``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas_exp.datasets.images import ImageSplit
from nas_exp.datasets.pickled import read_pickle_dict, require_keys
from nas_exp.errors import UserError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)
CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_TRAIN = ("train",)
CIFAR100_TEST = ("test",)
CIFAR_SHAPE = (3, 32, 32)


def read_cifar_batches(folder: Path, files: tuple[str, ...], label_key: str) -> ImageSplit:
    """Concatenate batch files into one split (images (N, 3, 32, 32) uint8, labels int64)."""
    images, labels = [], []
    for name in files:
        path = Path(folder) / name
        entry = read_pickle_dict(path)
        require_keys(entry, ("data", label_key), path)
        data = np.asarray(entry["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != int(np.prod(CIFAR_SHAPE)):
            raise UserError(f"{path}: 'data' must be (N, 3072) uint8, got {data.shape}")
        images.append(data.reshape(-1, *CIFAR_SHAPE))
        labels.append(np.asarray(entry[label_key], dtype=np.int64))
        if len(labels[-1]) != len(images[-1]):
            raise UserError(f"{path}: {len(images[-1])} images but {len(labels[-1])} labels")
    return ImageSplit(np.concatenate(images), np.concatenate(labels))


def read_cifar10(folder: Path) -> tuple[ImageSplit, ImageSplit]:
    """(train 50,000, test 10,000) from ``folder`` = .../cifar-10-batches-py."""
    return read_cifar_batches(folder, CIFAR10_TRAIN, "labels"), read_cifar_batches(folder, CIFAR10_TEST, "labels")


def read_cifar100(folder: Path) -> tuple[ImageSplit, ImageSplit]:
    """(train 50,000, test 10,000) with the 100 fine labels, from ``folder`` = .../cifar-100-python."""
    return (read_cifar_batches(folder, CIFAR100_TRAIN, "fine_labels"),
            read_cifar_batches(folder, CIFAR100_TEST, "fine_labels"))
