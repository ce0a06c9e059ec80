"""Datasets by NB201 name, read from local files under a data root, with NB201's splits.

=================  ===========================  ==============================  ==============================
name               train                        valid (the search sees it)      test (only reported)
=================  ===========================  ==============================  ==============================
cifar10-valid      CIFAR-10 train, 25k half      CIFAR-10 train, other 25k half  CIFAR-10 test (10k)
cifar10            CIFAR-10 train (50k)         none (NB201 has none)           CIFAR-10 test (10k)
cifar100           CIFAR-100 train (50k)        CIFAR-100 test, 5k half         CIFAR-100 test, other 5k half
ImageNet16-120     ImageNet16 train, 120 cls    val, 3k half                    val, other 3k half
digits             scikit-learn digits, 60%     20%                             20%
fashion-mnist      Fashion-MNIST train, 50k     Fashion-MNIST train, other 10k  Fashion-MNIST test (10k)
=================  ===========================  ==============================  ==============================

The halves come from NB201's split files in the data root when present (``cifar-split.txt``,
``cifar100-test-split.txt``, ``imagenet-16-120-test-split.txt``), else from a fixed seeded split of the same sizes
(recorded in ``ImageDataset.note``). Fashion-MNIST is also found where Debian's ``dataset-fashion-mnist`` puts
it (``nas_exp.datasets.fashion_mnist``). Data root: the argument, else ``$NAS_EXP_IMAGES``, else ``./data/images``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nas_exp.datasets.cifar import (CIFAR10_FOLDER, CIFAR10_TEST, CIFAR10_TRAIN, CIFAR100_FOLDER, CIFAR100_TEST,
                                    CIFAR100_TRAIN, read_cifar10, read_cifar100)
from nas_exp.datasets.digits import load_digits_dataset
from nas_exp.datasets import fashion_mnist
from nas_exp.datasets.images import ImageDataset
from nas_exp.datasets.imagenet16 import IMAGENET16_FOLDER, IMAGENET16_TRAIN, IMAGENET16_VALID, read_imagenet16
from nas_exp.datasets.splits import published_split
from nas_exp.errors import MissingDataError, UserError

ENV_VAR = "NAS_EXP_IMAGES"
DATASET_NAMES: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120", "digits",
                                 "fashion-mnist")

# NB201's normalization (xautodl/datasets/get_dataset_with_transform.py), per channel in pixel units.
CIFAR10_MEAN, CIFAR10_STD = (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)
CIFAR100_MEAN, CIFAR100_STD = (129.3, 124.1, 112.4), (68.2, 65.4, 70.4)
IMAGENET16_MEAN, IMAGENET16_STD = (122.68, 116.66, 104.01), (63.22, 61.26, 65.09)


@dataclass(frozen=True)
class RawFiles:
    """The files a dataset is read from and how a user gets them."""

    folder: str
    files: tuple[str, ...]
    shown: str  # the files, short
    how_to_get: str  # may name {root} and {folder}
    fallback: Path | None = None  # a system folder used when the data root lacks the files


_CIFAR_URL = "https://www.cs.toronto.edu/~kriz"
CIFAR10_FILES = RawFiles(CIFAR10_FOLDER, CIFAR10_TRAIN + CIFAR10_TEST, "data_batch_1..5, test_batch",
                         f"download {_CIFAR_URL}/cifar-10-python.tar.gz and extract it into {{root}}")
CIFAR100_FILES = RawFiles(CIFAR100_FOLDER, CIFAR100_TRAIN + CIFAR100_TEST, "train, test",
                          f"download {_CIFAR_URL}/cifar-100-python.tar.gz and extract it into {{root}}")
IMAGENET16_FILES = RawFiles(IMAGENET16_FOLDER, IMAGENET16_TRAIN + IMAGENET16_VALID,
                            "train_data_batch_1..10, val_data",
                            "get the 16x16 Downsampled ImageNet (Chrabaszcz et al. 2017; image-net.org "
                            "'Imagenet16_train' and 'Imagenet16_val', or the copy NB201's README links) and put its "
                            "batch files into {folder}")
FASHION_MNIST_FILES = RawFiles(fashion_mnist.FOLDER, fashion_mnist.FILES, "the four *-idx*-ubyte.gz files",
                               "run 'python -m nas_exp.datasets download fashion-mnist' (or 'apt-get install "
                               f"dataset-fashion-mnist', which installs them into {fashion_mnist.DEBIAN_FOLDER})",
                               fallback=fashion_mnist.DEBIAN_FOLDER)
RAW_FILES: dict[str, RawFiles | None] = {
    "cifar10-valid": CIFAR10_FILES, "cifar10": CIFAR10_FILES, "cifar100": CIFAR100_FILES,
    "ImageNet16-120": IMAGENET16_FILES, "digits": None, "fashion-mnist": FASHION_MNIST_FILES,
}


def resolve_image_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$NAS_EXP_IMAGES``, else ``./data/images``."""
    if root not in (None, ""):
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.cwd() / "data" / "images"


def check_dataset_name(name: str) -> str:
    if name not in DATASET_NAMES:
        raise UserError(f"unknown dataset {name!r} for training; valid: {', '.join(DATASET_NAMES)}")
    return name


def check_files(name: str, root: Path) -> None:
    """Raise one FileNotFoundError line naming the missing files, where they are expected and how to get them."""
    raw = RAW_FILES[check_dataset_name(name)]
    if raw is None:
        return
    folder = Path(root) / raw.folder
    missing = [f for f in raw.files if not (folder / f).is_file()]
    if missing and raw.fallback is not None and all((raw.fallback / f).is_file() for f in raw.files):
        return
    if missing:
        found = "not found" if len(missing) == len(raw.files) else f"incomplete (missing {', '.join(missing)})"
        how = raw.how_to_get.format(root=root, folder=folder)
        raise MissingDataError(
            f"{name} images {found}: expected {raw.shown} in {folder}; {how}, "
            f"or set evaluation.data_root (or ${ENV_VAR}) to the folder that holds {raw.folder}/")


def _cifar10_valid(root: Path) -> ImageDataset:
    train, test = read_cifar10(root / CIFAR10_FOLDER)
    split = published_split(root, "cifar-split.txt", ("train", "valid"), len(train))
    return ImageDataset("cifar10-valid", train.subset(split.first), train.subset(split.second), test, 10,
                        CIFAR10_MEAN, CIFAR10_STD, crop_padding=4, flip=True,
                        note="" if split.from_file else f"train/valid: {split.source}")


def _cifar10(root: Path) -> ImageDataset:
    train, test = read_cifar10(root / CIFAR10_FOLDER)
    return ImageDataset("cifar10", train, None, test, 10, CIFAR10_MEAN, CIFAR10_STD, crop_padding=4, flip=True)


def _cifar100(root: Path) -> ImageDataset:
    train, test = read_cifar100(root / CIFAR100_FOLDER)
    split = published_split(root, "cifar100-test-split.txt", ("xvalid", "xtest"), len(test))
    return ImageDataset("cifar100", train, test.subset(split.first), test.subset(split.second), 100,
                        CIFAR100_MEAN, CIFAR100_STD, crop_padding=4, flip=True,
                        note="" if split.from_file else f"valid/test: {split.source}")


def _imagenet16_120(root: Path) -> ImageDataset:
    train, val = read_imagenet16(root / IMAGENET16_FOLDER, num_classes=120)
    split = published_split(root, "imagenet-16-120-test-split.txt", ("xvalid", "xtest"), len(val))
    return ImageDataset("ImageNet16-120", train, val.subset(split.first), val.subset(split.second), 120,
                        IMAGENET16_MEAN, IMAGENET16_STD, crop_padding=2, flip=True,
                        note="" if split.from_file else f"valid/test: {split.source}")


_LOADERS: dict[str, Callable[[Path], ImageDataset]] = {
    "cifar10-valid": _cifar10_valid, "cifar10": _cifar10, "cifar100": _cifar100,
    "ImageNet16-120": _imagenet16_120, "digits": lambda root: load_digits_dataset(),
    "fashion-mnist": lambda root: fashion_mnist.load_fashion_mnist(fashion_mnist.find_folder(root)),
}


def load_dataset(name: str, root: str | os.PathLike | None = None) -> ImageDataset:
    """Dataset ``name`` with NB201's splits, read from the data root (see the module docstring)."""
    root_path = resolve_image_root(root)
    check_files(name, root_path)
    return _LOADERS[name](root_path)
