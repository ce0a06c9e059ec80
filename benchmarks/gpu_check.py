"""GPU check: one prepared run on one CUDA device that measures train mode and one-shot search, and checks that
training on the GPU computes what it computes on the CPU. Writes ``gpu_check.json`` and ``gpu_check.md`` under --out.

Run: `python benchmarks/gpu_check.py [--out outputs/gpu_check] [--parts ...] [--budget-s 450]` (`make gpu-check`).
CPU smoke run: `python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check` (tiny sizes, well under a minute);
CUDA-only rows (bf16 autocast, torch.compile / CUDA graphs, the GPU comparisons) are recorded as skipped there.

Parts (each timed; one that fails records its error and the others still run; the report is rewritten after each):

* throughput: train-step images/s of NB201's network (C=16, N=5) for the largest cell (all nor_conv_3x3) and
  index 6111, batch 256 and 1024, CIFAR-shaped synthetic uint8 data. Baseline: eager fp32 with a torch DataLoader
  doing per-image CPU crop + flip and a host -> device copy per batch (bench_train.py's naive loop). Then each
  acceleration alone on top of it (device-resident data + on-device crop/flip, bf16 autocast, channels_last,
  torch.compile(mode="reduce-overhead") = CUDA graphs) and all together (the project's Trainer with amp and
  compile), each with its ratio to the baseline of the same cell and batch. All rows run under the project's
  cuDNN autotuning (Trainer.fit's setting); warm-up steps (and compilation) are timed apart.
* train: NB201's recipe (TrainRecipe defaults) with recipe.epochs=12, i.e. NB201's 12-epoch schedule (hp=12), trained
  for its 12 epochs on 50,000 synthetic images, for 3 cells; seconds per epoch and the 200-epoch time extrapolated
  as first epoch + 199 x the mean later epoch (training steps only, no evaluation).
* one_shot: DARTS 1st and 2nd order and GDAS at NB201's settings (batch 64, C=16, N=5, 25,000 + 25,000 synthetic
  images): a warm-up epoch of --search-steps batches, then a timed one; seconds per step, the epoch time scaled to
  the whole train half, and torch.cuda.max_memory_allocated of the timed epoch; 2nd / 1st order ratio. Then
  DARTS 1st order and GDAS on DARTS' own space (search_space=darts: DARTS' search network, 8 cells at C=16 as in
  DARTS' CIFAR-10 search, i.e. N=2; N=1 in the dry run), with at most 10 steps per epoch.
* numerics: --numerics-steps fp32 training steps (the Trainer's own step, amp off) from the same initial weights on
  the same batches (one fixed crop/flip drawn on the CPU), TF32 off and cuDNN deterministic: CPU fp32 vs CPU fp64
  (the scale of fp32 rounding, which 20 steps at lr 0.1 amplify a lot), CUDA fp32 vs CPU fp32 and vs CPU fp64, and
  torch.compile(reduce-overhead) vs eager on CUDA. Per comparison: the first step's loss difference (the shared
  initial weights), the max absolute loss difference over the steps and the relative L2 difference of the final
  weights; judged against max(--loss-tol / --weight-tol, --rounding-factor x the fp32-vs-fp64 differences).
* environment: GPU, torch / CUDA / cuDNN versions, seconds of each part and the total.

--budget-s (default 450) shares the run's time among the parts (throughput 170, train 180, one-shot 50, numerics 50
at the default, rescaled to what is left as parts finish); a part past its share skips the remaining rows / epochs and
records them as skipped, so the whole check fits in one ~8-minute command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

import bench_one_shot
from bench_train import HostAugmented, synchronize, synthetic_cifar

from nas_exp.models.network import count_parameters_mb, seeded_network
from nas_exp.search_spaces.nb201 import Arch
from nas_exp.training.augment import normalize, random_crop_flip
from nas_exp.training.device import autocast, cudnn_autotune
from nas_exp.training.device_data import DeviceData, epoch_batches
from nas_exp.training.recipe import TrainRecipe
from nas_exp.training.trainer import Trainer

PARTS = ("throughput", "train", "one_shot", "numerics")  # environment is always recorded
RUN_ORDER = ("numerics", "throughput", "one_shot", "train")  # train last: the part the budget is most likely to cut
SHARES = {"throughput": 170.0, "train": 180.0, "one_shot": 50.0, "numerics": 50.0}
THROUGHPUT_CELLS = {
    "largest (all nor_conv_3x3)": Arch(("nor_conv_3x3",) * 6),
    "index 6111": Arch.from_index(6111),
}
TRAIN_CELLS = {
    **THROUGHPUT_CELLS,
    "small (1x1 convs, skips, pool)": Arch.from_str(
        "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"),
}
SEARCH_METHODS = {"darts 1st order": "darts", "darts 2nd order": "darts2", "gdas": "gdas"}
# on DARTS' own space (search_space=darts), labelled with the space; the nb201 rows above use NB201's supernet
DARTS_SPACE_METHODS = {"darts 1st order, darts space": "darts", "gdas, darts space": "gdas"}
DARTS_SPACE_STEPS = 10  # warm-up and timed steps of the darts-space rows
TARGET_IMAGES_S = 30_000  # largest cell, batch 256, H100/H200-class GPU
TARGET_ORDER_RATIO = 2.0  # DARTS 2nd order epoch / 1st order epoch
FULL_EPOCHS = 200
TRAIN_SCHEDULE = 12
NEEDS_CUDA = "skipped: needs CUDA"

# Markdown table headers (tests/test_gpu_check.py looks for them).
MD_THROUGHPUT = "| cell | batch | path | images/s | ms/step | vs baseline | warm-up s | note |"
MD_TRAIN = "| cell | params M | epochs | first epoch s | later epoch s (mean) | trained s | 200 epochs s (extrap.) | note |"
MD_ONE_SHOT = "| method | timed steps | s/step | epoch s (scaled) | images/s | peak memory MiB | memory | note |"
MD_NUMERICS = ("| comparison | steps | first loss diff | max abs loss diff | rel weight diff | loss tol (first / max) "
               "| weight tol | within |")
MD_PARTS = "| part | status | seconds |"


@dataclass(frozen=True)
class Sizes:
    C: int
    N: int
    batches: tuple[int, ...]
    warmup: int
    steps: int
    workers: int
    train_images: int
    train_epochs: int
    search_C: int
    search_N: int
    search_batch: int
    search_images: int  # per split
    search_steps: int  # batches of the warm-up epoch and of the timed epoch
    numerics_batch: int
    numerics_steps: int


REAL = Sizes(C=16, N=5, batches=(256, 1024), warmup=10, steps=40, workers=4, train_images=50_000,
             train_epochs=TRAIN_SCHEDULE, search_C=16, search_N=5, search_batch=64, search_images=25_000,
             search_steps=80, numerics_batch=64, numerics_steps=20)
DRY = Sizes(C=4, N=1, batches=(16, 32), warmup=1, steps=2, workers=0, train_images=128, train_epochs=2,
            search_C=4, search_N=1, search_batch=16, search_images=64, search_steps=2, numerics_batch=16,
            numerics_steps=5)


class NoCuda(RuntimeError):
    pass


# -- budget -------------------------------------------------------------------------------------------------------
class Budget:
    """The run's seconds, shared among the parts still to run in proportion to SHARES."""

    def __init__(self, seconds: float, parts: list[str]) -> None:
        self.end = time.perf_counter() + seconds
        self.left = list(parts)

    def part_deadline(self, part: str) -> float:
        now = time.perf_counter()
        weights = sum(SHARES[p] for p in self.left)
        deadline = now + max(self.end - now, 0.0) * SHARES[part] / weights
        self.left.remove(part)
        return deadline


def over(deadline: float, estimate: float = 0.0) -> bool:
    return time.perf_counter() + estimate > deadline


# -- part 1: throughput -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Accel:
    name: str
    device_data: bool = False
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    trainer: bool = False  # measured with the project's Trainer itself

    @property
    def needs_cuda(self) -> bool:
        return self.bf16 or self.compile or self.trainer


PATHS = (
    Accel("baseline: eager fp32 DataLoader"),
    Accel("device data + on-device crop/flip", device_data=True),
    Accel("bf16 autocast", bf16=True),
    Accel("channels_last", channels_last=True),
    Accel("torch.compile reduce-overhead", compile=True),
    Accel("all (project Trainer: amp + compile)", device_data=True, bf16=True, channels_last=True, compile=True,
          trainer=True),
)


def host_batches(dataset, batch_size: int, workers: int, device: torch.device) -> Iterator[tuple]:
    loader = torch.utils.data.DataLoader(HostAugmented(dataset), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0, drop_last=True)
    while True:
        for images, labels in loader:
            yield images.to(device, non_blocking=True), labels.to(device, non_blocking=True)


def device_batches(data: DeviceData, batch_size: int, seed: int) -> Iterator[tuple]:
    generator = torch.Generator(device=data.device)
    generator.manual_seed(seed)
    while True:  # drop_last: one batch shape, so a compiled step never sees a second one
        for index in epoch_batches(len(data.train), batch_size, generator, drop_last=True):
            images = random_crop_flip(data.train.images[index], data.crop_padding, data.flip, generator)
            yield normalize(images, data.mean, data.std), data.train.labels[index]


def time_steps(step: Callable[[], None], device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """(warm-up seconds, timed seconds) of ``warmup`` then ``steps`` calls of ``step``."""
    start = time.perf_counter()
    for _ in range(warmup):
        step()
    synchronize(device)
    began = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return began - start, time.perf_counter() - began


def measure_path(path: Accel, arch: Arch, dataset, data: DeviceData, batch_size: int, sizes: Sizes) -> dict:
    device = data.device
    model = seeded_network(arch, 0, C=sizes.C, N=sizes.N, num_classes=data.num_classes)
    if path.trainer:  # the Trainer's own loop over its own batches, timed over whole calls as bench_train does
        trainer = Trainer(model, data, TrainRecipe(batch_size=batch_size), seed=0, amp=True, compile=True)
        start = time.perf_counter()
        trainer.train_epoch(max_steps=sizes.warmup)  # also compiles and records the CUDA graphs
        warm = time.perf_counter() - start
        stats = trainer.train_epoch(max_steps=sizes.steps)
        return {"warmup_s": warm, "seconds": stats.seconds, "images": stats.images}
    layout = torch.channels_last if path.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=layout)
    recipe = TrainRecipe(batch_size=batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    if path.compile:
        torch.compiler.reset()
    forward = torch.compile(model, mode="reduce-overhead", dynamic=False) if path.compile else model
    batches = (device_batches(data, batch_size, 0) if path.device_data
               else host_batches(dataset, batch_size, sizes.workers, device))
    model.train()

    def step() -> None:
        images, labels = next(batches)
        images = images.contiguous(memory_format=layout)
        if path.compile:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(device, path.bf16):
            loss = F.cross_entropy(forward(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    try:
        warm, seconds = time_steps(step, device, sizes.warmup, sizes.steps)
    finally:
        batches.close()  # shuts the DataLoader's workers down
    return {"warmup_s": warm, "seconds": seconds, "images": sizes.steps * batch_size}


def part_throughput(ctx: Context, deadline: float) -> dict:
    """Eager rows of every cell and batch first, then the compiled ones (minutes of compilation) in order of
    interest, each skipped once the part's share of the budget would be exceeded."""
    sizes, device = ctx.sizes, ctx.device
    keys = [(cell, batch) for batch in sizes.batches for cell in THROUGHPUT_CELLS]
    order = [(key, p) for p in PATHS if not p.compile for key in keys]
    order += [(key, p) for key in keys for p in reversed(PATHS) if p.compile]  # "all" before compile alone
    results: dict[tuple, dict] = {}
    last_seconds = {False: 0.0, True: 0.0}  # duration of the last eager / compiled row: the next one's estimate
    with cudnn_autotune(device):
        for (cell, batch), path in order:
            row: dict[str, Any] = {"cell": cell, "batch": batch, "path": path.name}
            if path.needs_cuda and device.type != "cuda":
                row["skipped"] = NEEDS_CUDA
            elif over(deadline, last_seconds[path.compile]):
                row["skipped"] = "skipped: budget"
            else:
                began = time.perf_counter()
                try:
                    timing = measure_path(path, THROUGHPUT_CELLS[cell], ctx.dataset, ctx.data, batch, sizes)
                    row.update(timing, images_per_s=timing["images"] / timing["seconds"],
                               ms_per_step=1000 * timing["seconds"] * batch / timing["images"])
                except Exception as error:  # one row failing (e.g. a compile error) leaves the others
                    row["error"] = f"{type(error).__name__}: {error}"
                finally:
                    free_memory(device)
                last_seconds[path.compile] = time.perf_counter() - began
            results[(cell, batch, path.name)] = row
    rows = [results[(cell, batch, p.name)] for cell, batch in keys for p in PATHS]
    for row in rows:
        base = results[(row["cell"], row["batch"], PATHS[0].name)].get("images_per_s")
        if "images_per_s" in row and base:
            row["vs_baseline"] = row["images_per_s"] / base
    params = {cell: count_parameters_mb(seeded_network(a, 0, C=sizes.C, N=sizes.N)) for cell, a in
              THROUGHPUT_CELLS.items()}
    largest = [r for r in rows if r["cell"] == next(iter(THROUGHPUT_CELLS)) and r["batch"] == sizes.batches[0]]
    best = max((r.get("images_per_s", 0.0) for r in largest), default=0.0)
    return {"rows": rows, "params_m": params, "warmup_steps": sizes.warmup, "timed_steps": sizes.steps,
            "dataloader_workers": sizes.workers, "images": sizes.train_images, "C": sizes.C, "N": sizes.N,
            "target": {"what": f"largest cell, batch {sizes.batches[0]}, best path >= {TARGET_IMAGES_S:,} images/s "
                               "on an H100/H200-class GPU (not asserted)",
                       "best_images_per_s": best, "met": best >= TARGET_IMAGES_S}}


# -- part 2: 12-epoch trainings -----------------------------------------------------------------------------------
def part_train(ctx: Context, deadline: float) -> dict:
    """Each cell gets an equal share of what is left of the part's time; an epoch that would overrun it is not
    started (the first epoch of each cell always is)."""
    sizes, data = ctx.sizes, ctx.data
    recipe = TrainRecipe(epochs=TRAIN_SCHEDULE)
    cells = []
    names = list(TRAIN_CELLS)
    for i, name in enumerate(names):
        cell_deadline = time.perf_counter() + max(deadline - time.perf_counter(), 0.0) / (len(names) - i)
        model = seeded_network(TRAIN_CELLS[name], 0, C=sizes.C, N=sizes.N, num_classes=data.num_classes)
        row: dict[str, Any] = {"cell": name, "arch": TRAIN_CELLS[name].to_str(), "params_m": count_parameters_mb(model)}
        try:
            trainer = Trainer(model, data, recipe, seed=0, amp=True, compile=ctx.args.train_compile)
            seconds: list[float] = []
            for epoch in range(1, sizes.train_epochs + 1):
                if seconds and over(cell_deadline, seconds[-1]):
                    row["stopped"] = f"budget: stopped after {len(seconds)} of {sizes.train_epochs} epochs"
                    break
                trainer.fit(epoch)
                seconds.append(trainer.history[-1].seconds)
            row.update(epoch_seconds=seconds, epochs_done=len(seconds), trained_s=sum(seconds),
                       train_loss=trainer.history[-1].train_loss, **extrapolate(seconds))
        except Exception as error:
            row["error"] = f"{type(error).__name__}: {error}"
        finally:
            free_memory(data.device)
        cells.append(row)
    return {"cells": cells, "images": len(data.train), "steps_per_epoch": math.ceil(len(data.train) / recipe.batch_size),
            "recipe": recipe.as_dict(), "schedule": f"recipe.epochs={TRAIN_SCHEDULE} (NB201's 12-epoch schedule, "
                                                    f"hp=12), {sizes.train_epochs} epoch(s) of it trained",
            "amp": True, "compile": ctx.args.train_compile, "C": sizes.C, "N": sizes.N}


def extrapolate(seconds: list[float]) -> dict:
    """200 epochs = the first epoch (warm-up, cuDNN autotuning, compilation) + 199 x the mean later epoch."""
    first = seconds[0]
    later = sum(seconds[1:]) / len(seconds[1:]) if len(seconds) > 1 else first
    return {"first_epoch_s": first, "later_epoch_s": later, "full_200_epochs_s": first + (FULL_EPOCHS - 1) * later}


# -- part 3: one-shot search --------------------------------------------------------------------------------------
def part_one_shot(ctx: Context, deadline: float) -> dict:
    sizes, device = ctx.sizes, ctx.device
    data = DeviceData.from_dataset(bench_one_shot.synthetic_cifar(sizes.search_images), device)
    full_steps = math.ceil(sizes.search_images / sizes.search_batch)
    steps = min(sizes.search_steps, full_steps)
    args = SimpleNamespace(epochs=2, C=sizes.search_C, N=sizes.search_N, batch=sizes.search_batch, steps=steps,
                           eval_batches=2)
    memory = ("torch.cuda.max_memory_allocated of the timed epoch (includes the resident data)" if device.type == "cuda"
              else "CPU: process peak RSS (ru_maxrss, whole run)")
    rows = []
    last = 0.0
    darts_layout = bench_one_shot.space_layout("darts")
    # DARTS' search network runs 14 mixed edges of 8 ops per cell: fewer timed steps, so the budget holds
    darts_args = SimpleNamespace(**{**vars(args), "N": 2 if sizes.search_N > 1 else 1,
                                    "steps": min(steps, DARTS_SPACE_STEPS)})
    runs = [(label, method, bench_one_shot.NB201_LAYOUT, args) for label, method in SEARCH_METHODS.items()]
    runs += [(label, method, darts_layout, darts_args) for label, method in DARTS_SPACE_METHODS.items()]
    for label, method, layout, run_args in runs:
        row: dict[str, Any] = {"method": label, "N": run_args.N}
        if over(deadline, last):
            row["skipped"] = "skipped: budget"
            rows.append(row)
            continue
        began = time.perf_counter()
        try:
            records = bench_one_shot.bench_method(method, data, run_args, layout)
            record, mib, images = records[-1]  # the second epoch; the first is the warm-up
            timed = run_args.steps
            row.update(timed_steps=timed, step_s=record.train_seconds / timed,
                       epoch_s=record.train_seconds * full_steps / timed, measured_s=record.train_seconds,
                       warmup_epoch_s=records[0][0].train_seconds, images_per_s=images / record.train_seconds,
                       peak_memory_mib=mib, memory=memory, arch=layout.key(record.arch))
        except Exception as error:
            row["error"] = f"{type(error).__name__}: {error}"
        finally:
            free_memory(device)
        last = time.perf_counter() - began
        rows.append(row)
    by = {r["method"]: r for r in rows}
    first, second = by["darts 1st order"].get("step_s"), by["darts 2nd order"].get("step_s")
    ratio = second / first if first and second else None
    return {"rows": rows, "full_epoch_steps": full_steps, "images_per_split": sizes.search_images,
            "batch": sizes.search_batch, "C": sizes.search_C, "N": sizes.search_N,
            "order_ratio": {"darts2_over_darts1": ratio, "target": TARGET_ORDER_RATIO,
                            "met": None if ratio is None else ratio <= TARGET_ORDER_RATIO}}


# -- part 4: numerics ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """No TF32 anywhere, deterministic cuDNN algorithms, no autotuning."""
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def fixed_batches(sizes: Sizes) -> tuple[Any, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A small synthetic dataset and its first batches, cropped and flipped once on the CPU with a fixed seed."""
    dataset = synthetic_cifar(sizes.numerics_batch * sizes.numerics_steps, seed=1)
    images, labels = torch.from_numpy(dataset.train.images), torch.from_numpy(dataset.train.labels)
    generator = torch.Generator().manual_seed(0)
    batches = []
    for i in range(sizes.numerics_steps):
        part = slice(i * sizes.numerics_batch, (i + 1) * sizes.numerics_batch)
        batches.append((random_crop_flip(images[part], dataset.crop_padding, dataset.flip, generator), labels[part]))
    return dataset, batches


def run_steps(dataset, batches, device: torch.device, sizes: Sizes, dtype: torch.dtype = torch.float32,
              compile: bool = False) -> tuple[list[float], torch.Tensor]:
    """The Trainer's own SGD step (amp off) on ``batches``; per-step losses and the final weights (fp64, CPU)."""
    data = DeviceData.from_dataset(dataset, device)
    model = seeded_network(THROUGHPUT_CELLS["largest (all nor_conv_3x3)"], 0, C=sizes.C, N=sizes.N,
                           num_classes=dataset.num_classes).to(dtype)
    trainer = Trainer(model, data, TrainRecipe(batch_size=sizes.numerics_batch), seed=0, amp=False, compile=compile)
    trainer.model.train()
    losses = []
    for images, labels in batches:
        inputs = normalize(images.to(device), data.mean, data.std, trainer.layout).to(dtype)
        loss, _ = trainer.step(inputs, labels.to(device))
        losses.append(float(loss))
    weights = torch.cat([p.detach().double().cpu().reshape(-1) for p in trainer.model.parameters()])
    return losses, weights


def compare(name: str, a: tuple[list[float], torch.Tensor], b: tuple[list[float], torch.Tensor],
            args: argparse.Namespace, scale: dict | None) -> dict:
    """Differences of two runs of the same steps. ``scale``: the fp32-rounding reference row (CPU fp32 vs fp64);
    the tolerances are then ``max(--*-tol, --rounding-factor x`` its differences), since 20 steps at lr 0.1 amplify
    rounding (measured on the CPU at C=16 N=5: rel weight difference ~0.2 between fp32 and fp64). The first step's
    loss (the forward pass at the shared initial weights, before any divergence) is always held to --first-loss-tol.
    Without ``scale`` (the reference row itself) nothing is judged."""
    diffs = [abs(x - y) for x, y in zip(a[0], b[0])]
    row = {"comparison": name, "steps": len(diffs), "first_loss_diff": diffs[0], "max_abs_loss_diff": max(diffs),
           "rel_weight_diff": float((a[1] - b[1]).norm() / b[1].norm()), "loss_diffs": diffs}
    if scale is None:
        return {**row, "loss_tol": None, "weight_tol": None, "first_loss_tol": None, "within": None}
    loss_tol = max(args.loss_tol, args.rounding_factor * scale["max_abs_loss_diff"])
    weight_tol = max(args.weight_tol, args.rounding_factor * scale["rel_weight_diff"])
    return {**row, "loss_tol": loss_tol, "weight_tol": weight_tol, "first_loss_tol": args.first_loss_tol,
            "within": (row["first_loss_diff"] <= args.first_loss_tol and row["max_abs_loss_diff"] <= loss_tol
                       and row["rel_weight_diff"] <= weight_tol)}


def part_numerics(ctx: Context, deadline: float) -> dict:
    sizes, args = ctx.sizes, ctx.args
    dataset, batches = fixed_batches(sizes)
    cpu = torch.device("cpu")
    rows = []
    with strict_fp32():
        cpu64 = run_steps(dataset, batches, cpu, sizes, torch.float64)
        cpu32 = run_steps(dataset, batches, cpu, sizes)
        scale = compare("CPU fp32 vs CPU fp64 (the fp32 rounding scale; not judged)", cpu32, cpu64, args, None)
        rows.append(scale)
        if ctx.device.type != "cuda":
            rows += [{"comparison": "CUDA fp32 vs CPU fp32", "skipped": NEEDS_CUDA},
                     {"comparison": "CUDA compiled (reduce-overhead) vs CUDA eager", "skipped": NEEDS_CUDA}]
        else:
            cuda32 = run_steps(dataset, batches, ctx.device, sizes)
            rows.append(compare("CUDA fp32 vs CPU fp32", cuda32, cpu32, args, scale))
            rows.append(compare("CUDA fp32 vs CPU fp64", cuda32, cpu64, args, scale))
            try:
                compiled = run_steps(dataset, batches, ctx.device, sizes, compile=True)
                rows.append(compare("CUDA compiled (reduce-overhead) vs CUDA eager", compiled, cuda32, args, scale))
            except Exception as error:
                rows.append({"comparison": "CUDA compiled (reduce-overhead) vs CUDA eager",
                             "error": f"{type(error).__name__}: {error}"})
            finally:
                free_memory(ctx.device)
    judged = [r for r in rows if r.get("within") is not None]
    return {"rows": rows, "all_within": all(r["within"] for r in judged) if judged else None,
            "batch": sizes.numerics_batch, "cell": "largest (all nor_conv_3x3)", "C": sizes.C, "N": sizes.N,
            "learning_rate": TrainRecipe().learning_rate, "rounding_factor": args.rounding_factor,
            "settings": "TF32 off (cudnn + matmul), cudnn.deterministic, no autotuning; amp off; "
                        "the Trainer's step (channels_last on CUDA); one fixed crop/flip per batch"}


# -- part 5: environment ------------------------------------------------------------------------------------------
def environment(device: torch.device) -> dict:
    env: dict[str, Any] = {
        "device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(), "platform": platform.platform(), "cpu_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30, capability=f"{props.major}.{props.minor}",
                   gpu_count=torch.cuda.device_count())
    else:
        env["gpu"] = None
    return env


def free_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


# -- the run ------------------------------------------------------------------------------------------------------
@dataclass
class Context:
    args: argparse.Namespace
    sizes: Sizes
    device: torch.device
    _dataset: Any = field(default=None, repr=False)
    _data: DeviceData | None = field(default=None, repr=False)

    @property
    def dataset(self) -> Any:  # the 50,000 training images of parts 1 and 2, made once
        if self._dataset is None:
            self._dataset = synthetic_cifar(self.sizes.train_images)
        return self._dataset

    @property
    def data(self) -> DeviceData:  # ... and moved to the device once
        if self._data is None:
            self._data = DeviceData.from_dataset(self.dataset, self.device)
        return self._data


RUNNERS: dict[str, Callable[[Context, float], dict]] = {
    "throughput": part_throughput, "train": part_train, "one_shot": part_one_shot, "numerics": part_numerics,
}


def cuda_device() -> torch.device:
    if not torch.cuda.is_available():
        try:
            count = torch.cuda.device_count()
        except Exception:  # noqa: BLE001
            count = 0
        raise NoCuda(f"torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
                     f"{torch.version.cuda}, {count} device(s))")
    return torch.device("cuda")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/gpu_check"), help="folder of the two reports")
    parser.add_argument("--dry-run", action="store_true", help="CPU smoke run with tiny sizes")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    parser.add_argument("--budget-s", type=float, default=450.0, help="seconds the whole check may take")
    parser.add_argument("--train-images", type=int, default=None, help="synthetic training images (default 50000)")
    parser.add_argument("--train-compile", action="store_true",
                        help="12-epoch trainings with torch.compile (train mode's default is off)")
    parser.add_argument("--steps", type=int, default=None, help="timed throughput steps per row")
    parser.add_argument("--search-steps", type=int, default=None, help="batches of each one-shot epoch")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of torch (default: 1 for --dry-run, which is faster on a shared machine "
                             "than contended OpenMP threads; torch's default otherwise)")
    parser.add_argument("--loss-tol", type=float, default=1e-3, help="numerics: max abs loss difference (floor)")
    parser.add_argument("--weight-tol", type=float, default=1e-3,
                        help="numerics: relative L2 weight difference (floor)")
    parser.add_argument("--rounding-factor", type=float, default=4.0,
                        help="numerics: tolerances are at least this times the CPU fp32-vs-fp64 differences")
    parser.add_argument("--first-loss-tol", type=float, default=1e-4,
                        help="numerics: abs difference of the first step's loss (the shared initial weights)")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        parser.error(f"unknown part(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(PARTS)}")
    args.parts = parts
    if args.threads is None and args.dry_run:
        args.threads = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.dry_run:
        device = torch.device("cpu")
        sizes = DRY
    else:
        try:
            device = cuda_device()
        except NoCuda as error:
            print(f"error: no CUDA device: {error}; use --dry-run for the CPU smoke run", file=sys.stderr)
            return 2
        sizes = REAL
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"train_images": args.train_images, "steps": args.steps, "search_steps": args.search_steps}
    sizes = Sizes(**{**asdict(sizes), **{k: v for k, v in overrides.items() if v is not None}})
    ctx = Context(args, sizes, device)
    report: dict[str, Any] = {
        "mode": "dry-run (CPU, tiny sizes)" if args.dry_run else "cuda",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
        "sizes": asdict(sizes), "budget_s": args.budget_s, "parts": {},
    }
    began = time.perf_counter()
    report["parts"]["environment"] = {"status": "ok", "result": environment(device),
                                      "seconds": time.perf_counter() - began}
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    todo = [p for p in RUN_ORDER if p in args.parts]
    budget = Budget(args.budget_s, todo)
    for part in todo:
        deadline = budget.part_deadline(part)
        print(f"[gpu_check] {part} ... (share {deadline - time.perf_counter():.0f} s)", flush=True)
        began = time.perf_counter()
        entry: dict[str, Any] = {"status": "ok"}
        try:
            entry["result"] = RUNNERS[part](ctx, deadline)
        except Exception as error:  # one failing part records its error; the others still run
            entry.update(status="error", error=f"{type(error).__name__}: {error}",
                         traceback=traceback.format_exc(limit=6))
            free_memory(device)
        entry["seconds"] = time.perf_counter() - began
        report["parts"][part] = entry
        print(f"[gpu_check] {part}: {entry['status']} in {entry['seconds']:.1f} s", flush=True)
        report["total_seconds"] = time.perf_counter() - started
        write_reports(report, args.out)  # after every part: a killed run still leaves what it measured
    report["parts"]["environment"]["result"]["part_seconds"] = {
        name: entry["seconds"] for name, entry in report["parts"].items()}
    report["total_seconds"] = time.perf_counter() - started
    report["parts"]["environment"]["result"]["total_seconds"] = report["total_seconds"]
    write_reports(report, args.out)
    print(f"[gpu_check] wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'} "
          f"({report['total_seconds']:.1f} s)")
    return 0


# -- reports ------------------------------------------------------------------------------------------------------
def write_reports(report: dict, out: Path) -> None:
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and (abs(value) < 0.01 and value != 0):
        return f"{value:.2e}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def note(row: dict) -> str:
    return row.get("skipped") or row.get("error") or row.get("stopped") or ""


def markdown(report: dict) -> str:
    parts = report["parts"]
    env = parts["environment"]["result"]
    lines = ["# GPU check", "",
             f"Mode: **{report['mode']}**; started {report['started']}; command `{report['command']}`; "
             f"budget {report['budget_s']:.0f} s; total {num(report.get('total_seconds'))} s.", ""]
    lines += ["## Environment", "", "| key | value |", "|---|---|"]
    lines += [f"| {k} | {num(v, 2) if not isinstance(v, dict) else ''} |" for k, v in env.items()
              if not isinstance(v, dict)]
    lines += ["", MD_PARTS, "|---|---|---|"]
    lines += [f"| {name} | {entry['status']} | {num(entry.get('seconds'))} |" for name, entry in parts.items()]
    for name, render in (("throughput", md_throughput), ("train", md_train), ("one_shot", md_one_shot),
                         ("numerics", md_numerics)):
        if name not in parts:
            continue
        entry = parts[name]
        lines += ["", f"## {name}", ""]
        if entry["status"] != "ok":
            lines += [f"**error**: `{entry['error']}`", "", "```", entry.get("traceback", "").rstrip(), "```"]
        else:
            lines += render(entry["result"])
    return "\n".join(lines) + "\n"


def md_throughput(r: dict) -> list[str]:
    lines = [f"NB201 network C={r['C']} N={r['N']}, {r['images']:,} synthetic uint8 32x32 images; "
             f"{r['warmup_steps']} warm-up steps (with compilation), then {r['timed_steps']} timed; baseline "
             f"DataLoader workers: {r['dataloader_workers']}; ratios are to the baseline of the same cell and batch.",
             "", MD_THROUGHPUT, "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['cell']} | {row['batch']} | {row['path']} | {num(row.get('images_per_s'), 0)} | "
                     f"{num(row.get('ms_per_step'))} | {num(row.get('vs_baseline'), 2)}"
                     f"{'x' if 'vs_baseline' in row else ''} | {num(row.get('warmup_s'))} | {note(row)} |")
    t = r["target"]
    lines += ["", f"Target: {t['what']}: best measured {num(t['best_images_per_s'], 0)} images/s "
                  f"({'met' if t['met'] else 'not met'})."]
    return lines


def md_train(r: dict) -> list[str]:
    lines = [f"{r['schedule']}; {r['images']:,} images ({r['steps_per_epoch']} steps/epoch), batch "
             f"{r['recipe']['batch_size']}, C={r['C']} N={r['N']}, amp {num(r['amp'])}, compile {num(r['compile'])}. "
             f"200 epochs = first epoch + 199 x mean later epoch (training steps only).", "",
             MD_TRAIN, "|---|---|---|---|---|---|---|---|"]
    for row in r["cells"]:
        lines.append(f"| {row['cell']} | {row['params_m']:.2f} | {num(row.get('epochs_done'))} | "
                     f"{num(row.get('first_epoch_s'), 2)} | {num(row.get('later_epoch_s'), 2)} | "
                     f"{num(row.get('trained_s'))} | {num(row.get('full_200_epochs_s'), 0)} | {note(row)} |")
    return lines


def md_one_shot(r: dict) -> list[str]:
    lines = [f"C={r['C']} N={r['N']}, batch {r['batch']}, {r['images_per_split']:,} synthetic images per split; "
             f"one warm-up epoch, then one timed epoch of the same number of steps, scaled to the full "
             f"{r['full_epoch_steps']}-step epoch (rows on the darts space: DARTS' search network at the N of the "
             f"row's method name, 8 cells for N=2).", "", MD_ONE_SHOT, "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        label = row["method"] + (f" (N={row['N']})" if "darts space" in row["method"] else "")
        lines.append(f"| {label} | {num(row.get('timed_steps'))} | {num(row.get('step_s'), 4)} | "
                     f"{num(row.get('epoch_s'))} | {num(row.get('images_per_s'), 0)} | "
                     f"{num(row.get('peak_memory_mib'), 0)} | {row.get('memory', '')} | {note(row)} |")
    o = r["order_ratio"]
    lines += ["", f"DARTS 2nd / 1st order epoch time: {num(o['darts2_over_darts1'], 2)} (target <= "
                  f"{o['target']:.0f}x: {'-' if o['met'] is None else 'met' if o['met'] else 'not met'})."]
    return lines


def md_numerics(r: dict) -> list[str]:
    lines = [f"{r['cell']}, C={r['C']} N={r['N']}, batch {r['batch']}, lr {r['learning_rate']}; {r['settings']}. "
             f"Tolerances: max(floor, {r['rounding_factor']:g} x the CPU fp32-vs-fp64 difference); the first "
             "step's loss (same initial weights) has its own.", "", MD_NUMERICS, "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if "steps" not in row:
            lines.append(f"| {row['comparison']} | - | - | - | - | - | - | {note(row)} |")
            continue
        tol = (lambda v, f=".1e": "-" if v is None else format(v, f))
        lines.append(f"| {row['comparison']} | {row['steps']} | {row['first_loss_diff']:.2e} | "
                     f"{row['max_abs_loss_diff']:.2e} | {row['rel_weight_diff']:.2e} | {tol(row['first_loss_tol'])} / "
                     f"{tol(row['loss_tol'])} | {tol(row['weight_tol'])} | {num(row['within'])} |")
    lines += ["", f"All judged comparisons within tolerance: {num(r['all_within'])}."]
    return lines


if __name__ == "__main__":
    sys.exit(main())
