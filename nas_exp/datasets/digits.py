"""``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes, ships with scikit-learn).

A tiny offline stand-in for CIFAR in tests and demos. The 17 grey levels (0..16) are scaled to 0..255 and repeated
over 3 channels so the NB201 stem (3 input channels) takes them unchanged; 8x8 needs no resizing (the two stride-2
reductions give 4x4 and 2x2 maps). Fixed seeded split: 60% train, 20% valid, 20% test. No horizontal flip (digits
are not mirror-symmetric); random crop with 1 pixel of padding.
"""

from __future__ import annotations

import numpy as np

from nas_exp.datasets.images import ImageDataset, ImageSplit

DIGITS_SPLIT_SEED = 0
DIGITS_FRACTIONS = (0.6, 0.2)  # train, valid; test gets the rest


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as uint8 (N, 3, 8, 8) and int64 labels."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn is only needed for this dataset

    bunch = load_digits()
    grey = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # (N, 8, 8), values 0..16 -> 0..255
    return np.repeat(grey[:, None], 3, axis=1), bunch.target.astype(np.int64)


def load_digits_dataset(seed: int = DIGITS_SPLIT_SEED) -> ImageDataset:
    images, labels = digits_arrays()
    order = np.random.default_rng(seed).permutation(len(labels))
    n_train = int(round(DIGITS_FRACTIONS[0] * len(order)))
    n_valid = int(round(DIGITS_FRACTIONS[1] * len(order)))
    parts = np.split(order, [n_train, n_train + n_valid])
    train, valid, test = (ImageSplit(images[np.sort(p)], labels[np.sort(p)]) for p in parts)
    pixels = train.images.astype(np.float64)
    mean = float(pixels.mean())
    std = float(pixels.std())
    return ImageDataset(name="digits", train=train, valid=valid, test=test, num_classes=10, mean=(mean,) * 3,
                        std=(std,) * 3, crop_padding=1, flip=False)
