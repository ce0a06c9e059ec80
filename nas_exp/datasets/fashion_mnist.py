"""``fashion-mnist``: Zalando's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT): 70,000 grey 28x28 images of 10
clothing classes, in the four gzipped IDX files the project publishes.

Where the files are looked for, first match wins:

1. ``<data root>/fashion-mnist/`` (data root: ``evaluation.data_root``, else ``$NAS_EXP_IMAGES``, else
   ``./data/images``), where ``python -m nas_exp.datasets download fashion-mnist`` puts them;
2. ``/usr/share/datasets/fashion-mnist/``, where Debian's ``dataset-fashion-mnist`` package installs them
   (``apt-get install dataset-fashion-mnist``; CI does).

Splits: the 60,000 training images are split once by a fixed seed into 50,000 train and 10,000 valid (the search
sees valid); the official 10,000 test images are only reported. Images stay 1-channel (the network's stem takes the
dataset's channels); augmentation: random crop with 2 pixels of padding and horizontal flip (clothes are mirror
symmetric, digits are not). Headers are checked (IDX magic, counts, 28x28), so a damaged or wrong file is reported
in one line, not trained on.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from nas_exp.datasets.images import ImageDataset, ImageSplit
from nas_exp.errors import UserError

FOLDER = "fashion-mnist"
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
FILES: tuple[str, ...] = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
DOWNLOAD_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"  # the project README's links
N_TRAIN, N_TEST, SIDE = 60_000, 10_000, 28
N_VALID = 10_000
SPLIT_SEED = 0  # the train/valid split is fixed, the same for every run
CLASSES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                            "Bag", "Ankle boot")
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def find_folder(root: Path) -> Path | None:
    """The first folder holding all four files: ``root/fashion-mnist``, then Debian's; None when neither does."""
    for folder in (Path(root) / FOLDER, DEBIAN_FOLDER):
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def _read_idx(path: Path, magic: int, count: int) -> np.ndarray:
    """The array of one gzipped IDX file, its header checked against ``magic`` and ``count`` (and 28x28 images)."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"{path} is not a readable gzip file ({exc}); download it again") from None
    dims = 3 if magic == _IMAGES_MAGIC else 1
    header = np.frombuffer(raw[:4 * (1 + dims)], dtype=">u4") if len(raw) >= 4 * (1 + dims) else np.array([])
    expected = [magic, count] + ([SIDE, SIDE] if dims == 3 else [])
    if header.tolist() != expected:
        raise UserError(f"{path} has IDX header {header.tolist()}, expected {expected}: not the Fashion-MNIST file "
                        "it is named after; download it again")
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    size = count * (SIDE * SIDE if dims == 3 else 1)
    if body.size != size:
        raise UserError(f"{path} holds {body.size} bytes of data, expected {size}: the file is truncated")
    return body.reshape((count, 1, SIDE, SIDE) if dims == 3 else (count,))


def read_fashion_mnist(folder: Path) -> tuple[ImageSplit, ImageSplit]:
    """The official train (60k) and test (10k) sets as uint8 (N, 1, 28, 28) with int64 labels."""
    train = ImageSplit(_read_idx(folder / TRAIN_IMAGES, _IMAGES_MAGIC, N_TRAIN).copy(),
                       _read_idx(folder / TRAIN_LABELS, _LABELS_MAGIC, N_TRAIN).astype(np.int64))
    test = ImageSplit(_read_idx(folder / TEST_IMAGES, _IMAGES_MAGIC, N_TEST).copy(),
                      _read_idx(folder / TEST_LABELS, _LABELS_MAGIC, N_TEST).astype(np.int64))
    return train, test


def load_fashion_mnist(folder: Path) -> ImageDataset:
    """Fashion-MNIST from ``folder`` with the fixed 50k/10k train/valid split of the official training set."""
    official_train, test = read_fashion_mnist(folder)
    order = np.random.default_rng(SPLIT_SEED).permutation(N_TRAIN)
    valid_rows, train_rows = np.sort(order[:N_VALID]), np.sort(order[N_VALID:])
    train = official_train.subset(train_rows)
    pixels = train.images.astype(np.float64)
    return ImageDataset("fashion-mnist", train, official_train.subset(valid_rows), test, 10,
                        (float(pixels.mean()),), (float(pixels.std()),), crop_padding=2, flip=True)
