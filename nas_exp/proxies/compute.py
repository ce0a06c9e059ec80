"""Proxy settings, the fixed batch every data proxy sees, and the scores of one architecture.

The proxies run on a reduced *proxy network* by default: the space's own network at C=8 channels, N=1 cell per
stage, 16x16 inputs, a batch of 16 images (about 0.08 s for all eight proxies on one CPU core, against about 12 s
for the full C=16, N=5, 32x32 network at batch 64). ``docs/proxies.md`` gives the rank agreement of the two.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nas_exp.errors import MissingDataError, UserError
from nas_exp.proxies.measures import PROXIES, PROXY_NAMES, Batch, is_disconnected
from nas_exp.search_spaces.base import NETWORK, SearchSpace

DATA_SOURCES: tuple[str, ...] = ("fashion-mnist", "digits", "synthetic")
SETTINGS_VERSION = 1  # bump when a proxy's definition changes: older caches are then not reused


@dataclass(frozen=True)
class ProxySettings:
    """How proxies are computed. ``C``, ``N``: the network's channels and cells per stage; ``resolution``: input
    side in pixels; ``batch_size``: images of the data batch; ``data``: where they come from (``DATA_SOURCES``);
    ``seed``: network initialisation and batch draw (the same for every architecture); ``num_classes``: the
    network's outputs (10: digits and Fashion-MNIST have ten classes)."""

    C: int = 8
    N: int = 1
    resolution: int = 16
    batch_size: int = 16
    data: str = "digits"
    seed: int = 0
    num_classes: int = 10

    def __post_init__(self) -> None:
        for name, least in (("C", 1), ("N", 1), ("resolution", 4), ("batch_size", 2), ("seed", 0),
                            ("num_classes", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UserError(f"proxy setting {name} must be an int >= {least}, got {value!r}")
        if self.data not in DATA_SOURCES:
            raise UserError(f"unknown proxy data {self.data!r}; valid: {', '.join(DATA_SOURCES)}")

    def as_dict(self) -> dict:
        return {"version": SETTINGS_VERSION, **asdict(self)}

    @property
    def digest(self) -> str:
        """A short hash naming these settings' cache folder."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:12]


def check_proxies(names: Sequence[str] | None) -> tuple[str, ...]:
    if names is None:
        return PROXY_NAMES
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise UserError(f"unknown proxy {', '.join(map(repr, unknown))}; valid: {', '.join(PROXY_NAMES)}")
    if not names:
        raise UserError(f"no proxy chosen; valid: {', '.join(PROXY_NAMES)}")
    return tuple(names)


def _image_arrays(data: str) -> tuple[np.ndarray, np.ndarray, tuple[float, ...], tuple[float, ...], str]:
    """(uint8 images (N, C, H, W), labels, mean, std, description) of a real dataset's training split."""
    from nas_exp.datasets.registry import DATASET_NAMES, load_dataset

    if data not in DATASET_NAMES:
        raise MissingDataError(f"proxy data {data!r} is not in this installation's dataset registry (it has "
                               f"{', '.join(DATASET_NAMES)}); install the Debian package dataset-fashion-mnist "
                               "and update nas-exp, or pass --data digits")
    try:
        dataset = load_dataset(data)
    except MissingDataError as err:
        raise MissingDataError(f"{err}; or pass --data digits") from None
    return dataset.train.images, dataset.train.labels, dataset.mean, dataset.std, f"{data} training split"


def make_batch(settings: ProxySettings) -> tuple[Batch, str]:
    """The fixed batch of ``settings`` and a description of where it comes from. Real data: ``batch_size`` images
    drawn (numpy seed ``settings.seed``) from the training split, normalised by the dataset's mean/std, repeated to
    3 channels when grey and resized bilinearly to ``resolution``. ``synthetic``: standard normal images and
    uniform labels from torch seed ``settings.seed``."""
    size = settings.resolution
    if settings.data == "synthetic":
        generator = torch.Generator().manual_seed(settings.seed)
        images = torch.randn(settings.batch_size, 3, size, size, generator=generator)
        labels = torch.randint(0, settings.num_classes, (settings.batch_size,), generator=generator)
        return Batch(images, labels), f"synthetic N(0, 1) images, uniform labels (torch seed {settings.seed})"
    images, labels, mean, std, source = _image_arrays(settings.data)
    if len(labels) < settings.batch_size:
        raise UserError(f"proxy batch_size {settings.batch_size} exceeds the {len(labels)} images of {source}")
    if int(labels.max()) >= settings.num_classes:
        raise UserError(f"{settings.data} has {int(labels.max()) + 1} classes; set num_classes to at least that")
    rows = np.sort(np.random.default_rng(settings.seed).choice(len(labels), settings.batch_size, replace=False))
    x = torch.from_numpy(images[rows].astype(np.float32))
    channels = x.shape[1]
    x = (x - torch.tensor(mean[:channels]).view(1, -1, 1, 1)) / torch.tensor(std[:channels]).view(1, -1, 1, 1)
    if channels == 1:
        x = x.repeat(1, 3, 1, 1)
    if x.shape[2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    described = f"{source}: {settings.batch_size} images (numpy seed {settings.seed}) resized to {size}x{size}"
    return Batch(x.contiguous(), torch.from_numpy(labels[rows].astype(np.int64))), described


@dataclass(frozen=True)
class ArchScores:
    """The proxies of one architecture and the seconds each took (network building and the disconnection check
    are under ``build``)."""

    scores: dict[str, float]
    seconds: dict[str, float]
    disconnected: bool


def score_arch(space: SearchSpace, arch: Hashable, settings: ProxySettings, batch: Batch,
               proxies: Sequence[str] = PROXY_NAMES) -> ArchScores:
    """Every proxy in ``proxies`` of ``arch`` on a network freshly initialised from ``settings.seed``.

    Proxies that do not change the network share one instance (they only leave gradients and BatchNorm running
    statistics behind, which none of them reads); the one that does (synflow) runs last on it."""
    space.require(NETWORK, "build networks for zero-cost proxies")
    started = time.perf_counter()
    net = space.build_network(arch, seed=settings.seed, C=settings.C, N=settings.N,
                              num_classes=settings.num_classes)
    disconnected = is_disconnected(net, batch)
    seconds = {"build": time.perf_counter() - started}
    scores: dict[str, float] = {}
    for name in sorted(proxies, key=lambda n: PROXIES[n].mutates):
        info = PROXIES[name]
        started = time.perf_counter()
        if disconnected and info.floor is not None:
            value = info.floor(len(batch.labels))
        else:
            value = float(info.fn(net, batch))
        seconds[name] = time.perf_counter() - started
        if not math.isfinite(value):
            raise RuntimeError(f"proxy {name} gave {value} for {space.key(arch)}: a bug in its definition")
        scores[name] = value
    return ArchScores(scores={n: scores[n] for n in proxies}, seconds=seconds, disconnected=disconnected)
