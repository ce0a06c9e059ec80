"""ImageNet16-120: NB201's subset of the 16x16 downsampled ImageNet (Chrabaszcz et al., 2017), no torchvision.

Files (as NB201's ``xautodl/datasets/DownsampledImageNet.py`` reads them): ``ImageNet16/train_data_batch_1..10``
and ``ImageNet16/val_data``, pickled dicts with ``data`` (N, 768) uint8 in planar RGB order and 1-based ``labels``
(1..1000). NB201 keeps the classes 1..120 (151,700 training and 6,000 validation images) and shifts labels to 0..119.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas_exp.datasets.images import ImageSplit
from nas_exp.datasets.pickled import read_pickle_dict, require_keys
from nas_exp.errors import UserError

IMAGENET16_FOLDER = "ImageNet16"
IMAGENET16_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_VALID = ("val_data",)
IMAGENET16_SHAPE = (3, 16, 16)


def read_imagenet16_batches(folder: Path, files: tuple[str, ...], num_classes: int) -> ImageSplit:
    """Images of the classes 1..num_classes, labels shifted to 0-based."""
    images, labels = [], []
    for name in files:
        path = Path(folder) / name
        entry = read_pickle_dict(path)
        require_keys(entry, ("data", "labels"), path)
        data = np.asarray(entry["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != int(np.prod(IMAGENET16_SHAPE)):
            raise UserError(f"{path}: 'data' must be (N, 768) uint8, got {data.shape}")
        label = np.asarray(entry["labels"], dtype=np.int64)
        keep = (label >= 1) & (label <= num_classes)
        images.append(data[keep].reshape(-1, *IMAGENET16_SHAPE))
        labels.append(label[keep] - 1)
    return ImageSplit(np.concatenate(images), np.concatenate(labels))


def read_imagenet16(folder: Path, num_classes: int = 120) -> tuple[ImageSplit, ImageSplit]:
    """(train, val) of ImageNet16-``num_classes`` from ``folder`` = .../ImageNet16."""
    return (read_imagenet16_batches(folder, IMAGENET16_TRAIN, num_classes),
            read_imagenet16_batches(folder, IMAGENET16_VALID, num_classes))
