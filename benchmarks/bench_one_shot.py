"""One-shot search speed: seconds and peak memory per search epoch of DARTS and GDAS (optionally the other one-shot
optimizers) on a cell space's supernet (NB201's by default; `--space darts`: DARTS' search network, where DARTS'
own CIFAR-10 search is C=16 with 8 cells, `--N 2`), with the discretized cell after each epoch.

Run: `python benchmarks/bench_one_shot.py [--device auto|cpu|cuda] [--epochs 2] [--C 16] [--N 5] [--batch 64]
[--space nb201|darts]`
CPU smoke run: `python benchmarks/bench_one_shot.py --device cpu --C 4 --N 1 --batch 32 --steps 5 --epochs 2`.

Data: synthetic CIFAR-sized random uint8 images (32x32x3, 10 classes; --n-train for the weights, as many for the
architecture: cifar10-valid's 25,000/25,000 by default), resident on the device like train mode's. An epoch is one
pass over the train half (or --steps batches), scored afterwards on --eval-batches valid batches; the table's
seconds are the training part (weight + architecture steps). Memory: torch.cuda.max_memory_allocated per epoch on
CUDA (reset before each epoch; includes the resident data); on CPU the process' peak resident set size (ru_maxrss,
monotone over the whole run, so only its growth is informative).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from nas_exp.datasets.images import ImageDataset, ImageSplit
from nas_exp.datasets.registry import CIFAR10_MEAN, CIFAR10_STD
from nas_exp.one_shot import DARTS, ENAS, GDAS, RSWS, SPOS
from nas_exp.one_shot.base import OneShotOptimizer
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.records import EpochRecord
from nas_exp.search_spaces.declared import DeclaredCellSpace
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.search_spaces.supernet_layout import SupernetLayout
from nas_exp.training.device import resolve_device
from nas_exp.training.device_data import DeviceData

console = Console()
NB201_LAYOUT = NB201Space().supernet_layout()
CONF = Path(__file__).resolve().parents[1] / "conf" / "search_space"


def space_layout(name: str) -> SupernetLayout:
    """The supernet layout of search_space ``name``: nb201, or a declared cell space of conf/search_space/."""
    return NB201_LAYOUT if name == "nb201" else DeclaredCellSpace.from_yaml(CONF / f"{name}.yaml").supernet_layout()

METHODS = {
    "darts": lambda **kw: DARTS(order=1, **kw),
    "darts2": lambda **kw: DARTS(order=2, **kw),
    "gdas": GDAS,
    "rsws": lambda **kw: RSWS(select_num=20, **kw),
    "enas": lambda **kw: ENAS(controller_steps=5, controller_aggregate=4, select_num=20, **kw),
    "spos": lambda **kw: SPOS(population_size=10, n_iterations=2, n_parents=3, **kw),
}


def synthetic_cifar(n: int, seed: int = 0) -> ImageDataset:
    """``n`` random 32x32x3 uint8 images per split (train, valid), 10 random labels, CIFAR-10's statistics."""
    rng = np.random.default_rng(seed)

    def split() -> ImageSplit:
        return ImageSplit(rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8),
                          rng.integers(0, 10, size=n).astype(np.int64))

    return ImageDataset("synthetic", split(), split(), None, 10, CIFAR10_MEAN, CIFAR10_STD, crop_padding=4, flip=True)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def bench_method(name: str, data: DeviceData, args: argparse.Namespace,
                 layout: SupernetLayout = NB201_LAYOUT) -> list[tuple[EpochRecord, float, int]]:
    method: OneShotOptimizer = METHODS[name](
        layout=layout, seed=0, epochs=args.epochs, C=args.C, N=args.N, batch_size=args.batch,
        steps_per_epoch=args.steps, eval_batch_size=args.batch, eval_batches=args.eval_batches, select_batches=1)
    batches = SearchBatches(data, args.batch, 0, eval_batch_size=args.batch, steps_per_epoch=args.steps)
    n_steps = min(args.steps or sys.maxsize, -(-len(data.train) // args.batch))
    rows: list[tuple[EpochRecord, float, int]] = []

    def on_epoch(record: EpochRecord) -> None:
        rows.append((record, peak_memory_mb(data.device), n_steps * args.batch))
        reset_peak(data.device)

    reset_peak(data.device)
    method.search(batches, on_epoch=on_epoch)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--N", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="batches per epoch (default: the whole train half)")
    parser.add_argument("--n-train", type=int, default=25000, help="synthetic images per split")
    parser.add_argument("--eval-batches", type=int, default=2, help="valid batches scoring the cell per epoch")
    parser.add_argument("--methods", default="darts,gdas", help=f"comma list of {', '.join(METHODS)}")
    parser.add_argument("--space", default="nb201", help="nb201, or a declared cell space (tiny_cell, darts, ...)")
    args = parser.parse_args()
    unknown = [m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; valid: {', '.join(METHODS)}")
    layout = space_layout(args.space)
    device = resolve_device(args.device)
    n_train = args.n_train if args.steps is None else min(args.n_train, args.steps * args.batch)
    data = DeviceData.from_dataset(synthetic_cifar(n_train), device)
    memory = "peak allocated MiB (per epoch)" if device.type == "cuda" else "peak RSS MiB (process)"
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    table = Table(title=f"one-shot search epochs of {args.space} on {device} ({where}): C={args.C} N={args.N} "
                        f"batch {args.batch}, "
                        f"{n_train} synthetic 32x32 images per split")
    for column in ("method", "epoch", "train s", "images/s", memory, "one-shot acc %"):
        table.add_column(column, justify="left" if column == "method" else "right")
    cells = []
    for name in args.methods.split(","):
        for record, mib, images in bench_method(name, data, args, layout):
            table.add_row(name, str(record.epoch), f"{record.train_seconds:.2f}",
                          f"{images / record.train_seconds:.0f}", f"{mib:.0f}", f"{record.oneshot_valid_acc:.1f}")
            cells.append(f"{name} epoch {record.epoch}: {layout.key(record.arch)}")
    console.print(table)
    console.print("discretized cell after each epoch:")
    for line in cells:
        console.print(f"  {line}", soft_wrap=True, highlight=False)


if __name__ == "__main__":
    main()
