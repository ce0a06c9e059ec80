"""NB201's fixed data splits: read its split files, or draw a seeded split of the same sizes when they are absent.

NB201 ships (in ``configs/nas-benchmark/`` of D-X-Y/AutoDL-Projects):

* ``cifar-split.txt``: keys ``train``/``valid``, 25,000 indices each into the CIFAR-10 training set;
* ``cifar100-test-split.txt``: keys ``xvalid``/``xtest``, 5,000 indices each into the CIFAR-100 test set;
* ``imagenet-16-120-test-split.txt``: keys ``xvalid``/``xtest``, 3,000 indices each into ImageNet16-120's val set.

Their format is NB201's config format, JSON with ``{"key": ["int", ["0", "5", ...]]}``; a plain list is accepted too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas_exp.errors import UserError

SPLIT_SEED = 0  # the fallback split is fixed (the same for every run), as NB201's file is


@dataclass(frozen=True)
class TwoWaySplit:
    """Indices of the two halves of one set and where they came from (``source``: the file, or the fallback)."""

    first: np.ndarray
    second: np.ndarray
    source: str
    from_file: bool


def _indices(value: object, key: str, path: Path) -> np.ndarray:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list):
        value = value[1]  # NB201's ["int", [...]]
    if not isinstance(value, list):
        raise UserError(f"{path}: {key!r} must be a list of indices or NB201's [\"int\", [...]]")
    return np.asarray([int(v) for v in value], dtype=np.int64)


def read_split_file(path: Path, keys: tuple[str, str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The two index lists ``keys`` of an NB201 split file, checked to be disjoint and within 0..size-1."""
    with open(path) as handle:
        content = json.load(handle)
    missing = [key for key in keys if key not in content]
    if missing:
        raise UserError(f"{path} lacks key(s) {', '.join(missing)}; it has {sorted(content)}")
    first, second = (_indices(content[key], key, path) for key in keys)
    both = np.concatenate([first, second])
    if both.size and (both.min() < 0 or both.max() >= size):
        raise UserError(f"{path}: indices must lie in 0..{size - 1} for a set of {size} images")
    if len(np.unique(both)) != len(both):
        raise UserError(f"{path}: the {keys[0]!r} and {keys[1]!r} indices overlap or repeat")
    return first, second


def seeded_halves(size: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of 0..size-1 into two halves (the first gets the extra index when size is odd)."""
    order = np.random.default_rng(seed).permutation(size)
    half = (size + 1) // 2
    return np.sort(order[:half]), np.sort(order[half:])


def published_split(root: Path, filename: str, keys: tuple[str, str], size: int) -> TwoWaySplit:
    """NB201's split from ``root/filename`` when present, else a seeded split into halves (said in ``source``)."""
    path = Path(root) / filename
    if path.is_file():
        first, second = read_split_file(path, keys, size)
        return TwoWaySplit(first, second, str(path), True)
    first, second = seeded_halves(size)
    return TwoWaySplit(first, second, f"seeded {len(first)}/{len(second)} split ({filename} not found in {root})",
                       False)
