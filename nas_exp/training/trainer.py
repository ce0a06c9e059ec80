"""Training one network: SGD + per-epoch cosine schedule on a device-resident dataset, checkpointed every epoch.

All randomness of training after the weights are initialized (the epoch's shuffle, crop offsets, flips) comes from
the trainer's own ``torch.Generator`` (seeded with ``seed``, on the training device), whose state is part of the
checkpoint: a run resumed from epoch k continues exactly as the uninterrupted run would (bit for bit on CPU).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError
from nas_exp.training.augment import normalize, random_crop_flip
from nas_exp.training.checkpoint import load_checkpoint, save_checkpoint
from nas_exp.training.device import autocast, cudnn_autotune, memory_format
from nas_exp.training.device_data import DeviceData, epoch_batches
from nas_exp.training.recipe import TrainRecipe


@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 1-based: epochs done after this one
    learning_rate: float  # the rate this epoch trained with
    train_loss: float  # mean over the epoch's batches, weighted by batch size
    train_acc: float  # %, on the augmented training batches
    seconds: float
    images: int  # training images seen in the epoch


@dataclass(frozen=True)
class TrainResult:
    epochs: int  # epochs trained in all (including those loaded from a checkpoint)
    train_seconds: float  # training time of all those epochs (including before an interruption)
    history: tuple[EpochStats, ...]
    resumed_from: int  # epochs loaded from a checkpoint; 0 if training started fresh


class Trainer:
    """Trains ``model`` on ``data.train`` with ``recipe``.

    ``compile``: wrap the model in ``torch.compile(mode="reduce-overhead")`` (CUDA graphs on GPU). ``amp``: bf16
    autocast, on CUDA only. ``checkpoint``: file written after every epoch and read back by ``fit`` to resume;
    ``checkpoint_key`` identifies the training, so a file of another training is refused rather than resumed.
    """

    def __init__(self, model: nn.Module, data: DeviceData, recipe: TrainRecipe, seed: int, *, amp: bool = True,
                 compile: bool = False, checkpoint: Path | None = None, checkpoint_key: str = "") -> None:
        self.data, self.recipe, self.amp = data, recipe, amp
        self.device = data.device
        self.layout = memory_format(self.device)
        self.model = model.to(self.device, memory_format=self.layout)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=recipe.learning_rate, momentum=recipe.momentum,
                                         weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=recipe.epochs,
                                                                    eta_min=recipe.min_learning_rate)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        padding = data.crop_padding if recipe.crop_padding is None else recipe.crop_padding
        flip = data.flip if recipe.flip is None else recipe.flip
        self.crop_padding, self.flip = (padding, flip) if recipe.augment else (0, False)
        self.compiled = compile
        if compile:
            # Every evaluation compiles a new network; without a reset, Dynamo's caches on the shared forward code
            # would fill up after a few cells and silently fall back to eager mode.
            torch.compiler.reset()
        self.forward = torch.compile(self.model, mode="reduce-overhead", dynamic=False) if compile else self.model
        self.checkpoint, self.checkpoint_key = checkpoint, checkpoint_key
        self.epoch = 0
        self.train_seconds = 0.0
        self.history: list[EpochStats] = []

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, epochs: int, on_epoch_end: Callable[[EpochStats], None] | None = None) -> TrainResult:
        """Train until ``epochs`` epochs of the recipe's schedule are done (resuming from the checkpoint if there
        is one), saving a checkpoint after each epoch and then calling ``on_epoch_end``."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 0 <= epochs <= self.recipe.epochs:
            raise UserError(f"epochs must be an int in 0..{self.recipe.epochs} (the schedule's length), "
                             f"got {epochs!r}")
        resumed_from = self.resume(up_to=epochs)
        with cudnn_autotune(self.device):
            while self.epoch < epochs:
                stats = self.train_epoch(self.recipe.steps_per_epoch)
                self.scheduler.step()
                self.epoch += 1
                self.train_seconds += stats.seconds
                self.history.append(stats)
                if self.checkpoint is not None:
                    save_checkpoint(self.checkpoint, self.state_dict())
                if on_epoch_end is not None:
                    on_epoch_end(stats)
        return TrainResult(self.epoch, self.train_seconds, tuple(self.history), resumed_from)

    def train_epoch(self, max_steps: int | None = None) -> EpochStats:
        """One pass over the shuffled training split (only its first ``max_steps`` batches if given; the epoch
        counter and the schedule are left to ``fit``)."""
        self.model.train()
        train = self.data.train
        learning_rate = float(self.optimizer.param_groups[0]["lr"])
        start = time.perf_counter()
        batches = epoch_batches(len(train), self.recipe.batch_size, self.generator, self.recipe.drop_last)
        if max_steps is not None:
            batches = batches[:max_steps]
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = 0
        for index in batches:
            images = random_crop_flip(train.images[index], self.crop_padding, self.flip, self.generator)
            loss, n_correct = self.step(normalize(images, self.data.mean, self.data.std, self.layout),
                                        train.labels[index])
            loss_sum += loss * len(index)
            correct += n_correct
            seen += len(index)
        n = max(seen, 1)
        train_loss, train_acc = loss_sum.item() / n, 100.0 * correct.item() / n  # .item() waits for the GPU
        return EpochStats(self.epoch + 1, learning_rate, train_loss, train_acc, time.perf_counter() - start, seen)

    def step(self, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step; returns the batch's mean loss and its number of correct predictions (device tensors)."""
        if self.compiled:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(self.device, self.amp):
            logits = self.forward(inputs)
            loss = F.cross_entropy(logits.float(), labels)
        n_correct = (logits.argmax(dim=1) == labels).sum()
        loss_value = loss.detach().double()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss_value, n_correct

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "key": self.checkpoint_key,
            "epoch": self.epoch,
            "train_seconds": self.train_seconds,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "history": [dataclasses.asdict(stats) for stats in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["key"] != self.checkpoint_key:
            raise UserError(f"checkpoint {self.checkpoint} belongs to another training (key {state['key']!r}, "
                             f"expected {self.checkpoint_key!r}); delete it or use another checkpoint_dir")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"].cpu())
        self.epoch = int(state["epoch"])
        self.train_seconds = float(state["train_seconds"])
        self.history = [EpochStats(**stats) for stats in state["history"]]

    def resume(self, up_to: int | None = None) -> int:
        """Load the checkpoint if one exists (and holds at most ``up_to`` epochs: a longer training cannot be
        wound back); returns the epochs loaded (0 if none)."""
        if self.checkpoint is None or self.epoch > 0:
            return 0
        state = load_checkpoint(self.checkpoint)
        if state is None or (up_to is not None and state["epoch"] > up_to):
            return 0
        self.load_state_dict(state)
        return self.epoch
