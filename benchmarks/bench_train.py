"""Train-mode speed: images/s of NB201 training steps, naive baseline vs the fast path, and a 200-epoch estimate.

Run: `python benchmarks/bench_train.py [--device auto|cpu|cuda] [--steps 50] [--synthetic | --no-synthetic]`
CPU smoke run: `python benchmarks/bench_train.py --device cpu --steps 3` (a few minutes on 2 cores).

Cells: the largest (all nor_conv_3x3, 1.53 M params) and a mixed one (NB201's best cifar10 cell, index 6111), both
C=16, N=5, 10 classes, batch 256 (NB201's settings). Paths, measured in the same run on the same data:

* naive: eager fp32, a torch DataLoader over host memory doing per-image random crop + flip on the CPU, a host ->
  device copy per batch (pinned memory and workers on CUDA), the usual training script;
* fast: the project's Trainer: the dataset resident on the device as uint8, crop + flip + normalization on the
  device per batch, bf16 autocast + channels_last on CUDA (fp32 on CPU);
* fast + compile: the same with torch.compile(mode="reduce-overhead") (CUDA graphs); default on CUDA only.

Data: --synthetic (default) is CIFAR-sized random uint8 (50,000 32x32x3 images); --no-synthetic reads CIFAR-10's
training set from --data-root. The 200-epoch estimate times whole epochs of the fastest path (with --steps smaller
than an epoch, the first --steps batches of each epoch, scaled to the epoch) and multiplies by 200.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from nas_exp.datasets.images import ImageDataset, ImageSplit
from nas_exp.datasets.registry import CIFAR10_MEAN, CIFAR10_STD, load_dataset
from nas_exp.models.network import count_parameters_mb, seeded_network
from nas_exp.search_spaces.nb201 import Arch
from nas_exp.training.device import resolve_device
from nas_exp.training.device_data import DeviceData
from nas_exp.training.recipe import TrainRecipe
from nas_exp.training.trainer import Trainer

console = Console()
CELLS = {
    "largest: all nor_conv_3x3": Arch(("nor_conv_3x3",) * 6),
    "mixed: index 6111": Arch.from_index(6111),
}
FULL_EPOCHS = 200


# -- data ---------------------------------------------------------------------------------------------------------
def synthetic_cifar(n: int, seed: int = 0) -> ImageDataset:
    """``n`` random uint8 32x32x3 images with random labels of 10 classes, normalized with CIFAR-10's statistics."""
    rng = np.random.default_rng(seed)
    train = ImageSplit(rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8),
                       rng.integers(0, 10, size=n).astype(np.int64))
    return ImageDataset("synthetic", train, None, None, 10, CIFAR10_MEAN, CIFAR10_STD, crop_padding=4, flip=True)


class HostAugmented(torch.utils.data.Dataset):
    """The naive baseline's dataset: one image at a time on the CPU, torchvision-style
    RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize."""

    def __init__(self, dataset: ImageDataset) -> None:
        self.images, self.labels = dataset.train.images, dataset.train.labels
        self.padding = dataset.crop_padding
        self.mean = torch.tensor(dataset.mean).view(-1, 1, 1) / 255.0
        self.std = torch.tensor(dataset.std).view(-1, 1, 1) / 255.0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.images[i])
        _, height, width = image.shape
        padded = F.pad(image, (self.padding,) * 4)
        top, left = (int(v) for v in torch.randint(0, 2 * self.padding + 1, (2,)))
        image = padded[:, top:top + height, left:left + width]
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        return (image.float() / 255.0 - self.mean) / self.std, int(self.labels[i])


# -- timing -------------------------------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_naive(arch: Arch, dataset: ImageDataset, device: torch.device, batch_size: int, warmup: int, steps: int,
               workers: int) -> float:
    """Images/s of the naive loop (eager fp32, DataLoader with CPU augmentation, per-batch host -> device copy)."""
    model = seeded_network(arch, 0, num_classes=dataset.num_classes).to(device)
    recipe = TrainRecipe()
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    loader = torch.utils.data.DataLoader(HostAugmented(dataset), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0, drop_last=True)
    model.train()

    def batches():
        while True:
            yield from loader

    stream = batches()
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(device)
            start = time.perf_counter()
        images, labels = next(stream)
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def make_trainer(arch: Arch, data: DeviceData, batch_size: int, compile: bool) -> Trainer:
    model = seeded_network(arch, 0, num_classes=data.num_classes)
    return Trainer(model, data, TrainRecipe(batch_size=batch_size), seed=0, amp=True, compile=compile)


def time_fast(arch: Arch, data: DeviceData, batch_size: int, warmup: int, steps: int, compile: bool) -> float:
    """Images/s of the project's Trainer (device-resident data and augmentation; bf16 + channels_last on CUDA)."""
    trainer = make_trainer(arch, data, batch_size, compile)
    trainer.train_epoch(max_steps=warmup)  # also compiles and records CUDA graphs
    stats = trainer.train_epoch(max_steps=steps)
    return stats.images / stats.seconds


def time_full_training(arch: Arch, data: DeviceData, batch_size: int, warmup: int, epochs: int,
                       max_steps: int | None, compile: bool) -> tuple[float, str]:
    """Seconds of one FULL_EPOCHS training, from ``epochs`` measured epochs (each cut to ``max_steps`` batches
    and scaled up if given); compilation and warm-up are not included."""
    trainer = make_trainer(arch, data, batch_size, compile)
    trainer.train_epoch(max_steps=None if compile else warmup)  # compiled: both batch shapes (full + last) first
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    cut = max_steps if max_steps is not None and max_steps < steps_per_epoch else None
    seconds = []
    for _ in range(epochs):
        stats = trainer.train_epoch(max_steps=cut)
        seconds.append(stats.seconds * (steps_per_epoch / cut if cut else 1.0))
    how = (f"{epochs} epoch(s)" if cut is None else f"{epochs} x {cut}/{steps_per_epoch} steps, scaled")
    return float(np.mean(seconds)) * FULL_EPOCHS, how


# -- report -------------------------------------------------------------------------------------------------------
def fmt_duration(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--steps", type=int, default=50, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 10 CUDA, 1 CPU)")
    parser.add_argument("--synthetic", action=argparse.BooleanOptionalAction, default=True,
                        help="random CIFAR-sized data (default) or CIFAR-10 from --data-root")
    parser.add_argument("--images", type=int, default=50_000, help="synthetic training images")
    parser.add_argument("--data-root", default=None, help="for --no-synthetic; default $NAS_EXP_IMAGES")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="also time torch.compile (auto: on CUDA only)")
    parser.add_argument("--workers", type=int, default=None, help="naive DataLoader workers (default: 4 CUDA, 0 CPU)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs measured for the 200-epoch estimate (default: 2 CUDA, 1 CPU)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    on_cuda = device.type == "cuda"
    warmup = args.warmup if args.warmup is not None else (10 if on_cuda else 1)
    workers = args.workers if args.workers is not None else (4 if on_cuda else 0)
    epochs = args.epochs if args.epochs is not None else (2 if on_cuda else 1)
    compile_too = args.compile == "on" or (args.compile == "auto" and on_cuda)
    dataset = synthetic_cifar(args.images) if args.synthetic else load_dataset("cifar10", args.data_root)
    data = DeviceData.from_dataset(dataset, device)
    name = torch.cuda.get_device_name(device) if on_cuda else f"CPU, {torch.get_num_threads()} threads"
    console.print(f"device: {name}; torch {torch.__version__}; data: {dataset.name}, {len(dataset.train):,} "
                  f"images {dataset.image_shape}; batch {args.batch_size}; {args.steps} timed steps after {warmup} "
                  f"warm-up; naive DataLoader workers: {workers}")

    paths: list[tuple[str, Callable[[Arch], float]]] = [
        ("naive", lambda a: time_naive(a, dataset, device, args.batch_size, warmup, args.steps, workers)),
        ("fast", lambda a: time_fast(a, data, args.batch_size, warmup, args.steps, compile=False)),
    ]
    if compile_too:
        paths.append(("fast+compile", lambda a: time_fast(a, data, args.batch_size, warmup, args.steps, compile=True)))
    console.print("paths: naive = eager fp32, DataLoader with per-image CPU crop+flip, host->device copy per batch "
                  f"(the baseline); fast = data resident on the device, crop+flip on the device"
                  f"{', bf16 autocast, channels_last' if on_cuda else ', fp32'}; fast+compile = fast with "
                  "torch.compile(mode='reduce-overhead')", soft_wrap=True)
    table = Table(title=f"training throughput, batch {args.batch_size}, C=16 N=5 (speed-up vs naive, same cell)")
    for col in ("cell", "params M", "path", "images/s", "ms/step", "vs naive"):
        table.add_column(col, justify="right")
    best: dict[str, tuple[float, bool]] = {}
    naive: dict[str, float] = {}
    for cell, arch in CELLS.items():
        params = count_parameters_mb(seeded_network(arch, 0))
        for label, measure in paths:
            rate = measure(arch)
            naive.setdefault(cell, rate)  # the first path is the baseline
            table.add_row(cell, f"{params:.2f}", label, f"{rate:,.0f}", f"{1000 * args.batch_size / rate:.1f}",
                          f"{rate / naive[cell]:.2f}x")
            if cell not in best or rate > best[cell][0]:
                best[cell] = (rate, "compile" in label)
    console.print(table)

    largest = next(iter(CELLS))
    use_compile = best[largest][1]
    estimate, how = time_full_training(CELLS[largest], data, args.batch_size, warmup, epochs, args.steps,
                                       compile=use_compile)
    images = len(data.train)
    summary = Table(title=f"one {FULL_EPOCHS}-epoch training of the largest cell, {images:,} images "
                          f"({math.ceil(images / args.batch_size)} steps/epoch), extrapolated")
    for col in ("path", "measured", f"{FULL_EPOCHS} epochs", "vs naive"):
        summary.add_column(col, justify="right")
    naive_estimate = FULL_EPOCHS * images / naive[largest]
    summary.add_row("naive", "images/s above", fmt_duration(naive_estimate), "1.00x")
    summary.add_row(f"fast{' + compile' if use_compile else ''}", how, fmt_duration(estimate),
                    f"{naive_estimate / estimate:.2f}x")
    console.print(summary)


if __name__ == "__main__":
    main()
