"""Train mode: decode the cell into NB201's network and really train it; cost = the measured training seconds.

Mirrors ``TabularEvaluator``: the optimizer is told the validation accuracy on ``search_on``, the test accuracy on
``report_on`` is only reported. Where the two differ (``dataset=cifar10``: search on cifar10-valid, report cifar10)
the test accuracy comes, as in NB201, from a second network trained on ``report_on``'s full training set; that
second training is not part of ``cost`` (the tabular evaluator does not charge it either).

Epochs: every training follows the recipe's schedule (``recipe.epochs``, 200 by default); ``epochs`` (config) is
how many of its epochs an evaluation trains: the evaluator's full training and top fidelity (``max_epochs``), like
tabular's ``epoch``. ``evaluate(..., epochs=e)`` (multi-fidelity) trains the first e epochs of that same schedule
(the learning rate is not annealed to its minimum), NB201's convention: its per-epoch results are those of the
200-epoch run. For a short schedule that anneals fully, set ``recipe.epochs`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_exp.benchmarks.base import Metric
from nas_exp.checks import require_int
from nas_exp.datasets.registry import check_dataset_name, load_dataset
from nas_exp.errors import UserError
from nas_exp.evaluation.base import EpochListener, EpochProgress, Evaluation
from nas_exp.models.params import count_parameters_mb
from nas_exp.search_spaces.base import NETWORK, SearchSpace
from nas_exp.training.checkpoint import delete_checkpoint
from nas_exp.training.device import resolve_device
from nas_exp.training.device_data import DeviceData, DeviceSplit
from nas_exp.training.inference import score_split
from nas_exp.training.recipe import TrainRecipe
from nas_exp.torch_threads import set_torch_threads
from nas_exp.training.trainer import Trainer, TrainResult

SEED_HIGH = 2**31 - 1  # torch seeds are drawn from 0..SEED_HIGH-1 with the search's generator


def epochs_in_range(epochs: Any, high: int, what: str) -> int:
    """``epochs`` as an int, checked to lie in 1..high."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= high:
        raise UserError(f"{what} must be an int in 1..{high}, got {epochs!r}")
    return int(epochs)


def _plain(value: Any) -> Any:
    """numpy scalars (as ConfigSpace hands them out) -> Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


class TrainEvaluator:
    """Evaluate a cell by training NB201's network for it.

    ``C``/``N``: channels of the first stage and cells per stage (NB201: 16, 5). ``epochs``: epochs of a full
    evaluation, i.e. ``max_epochs`` (None: the whole schedule, ``recipe.epochs``). ``recipe``: overrides of
    ``TrainRecipe`` fields. ``data_root``: where the image files are (None: $NAS_EXP_IMAGES, else ./data/images).
    ``device``: auto | cpu | cuda. ``checkpoint_dir``: where the running evaluation's checkpoint lives (None: no
    checkpoints). ``compile``: torch.compile(mode="reduce-overhead"). ``amp``: bf16 autocast on CUDA.
    ``report_test``: also measure the test accuracy. ``threads``: torch's CPU threads for the process (None:
    torch's default).
    """

    trains = True  # trains networks (one-shot optimizers may retrain their final cells with it)
    records_cost = True  # measured seconds
    reports_epochs = True  # calls epoch_listener (when set) after every training epoch
    ignores_budgets = False  # a trial of e epochs trains e epochs
    search_metric = Metric.percent("valid_acc")
    report_metric: Metric | None = Metric.percent("test_acc")

    def __init__(self, space: SearchSpace, search_on: str, report_on: str, C: int = 16, N: int = 5,
                 epochs: int | None = None,
                 recipe: Mapping[str, Any] | None = None, data_root: str | os.PathLike | None = None,
                 device: str = "auto", checkpoint_dir: str | os.PathLike | None = None, compile: bool = False,
                 amp: bool = True, report_test: bool = True, threads: int | None = None) -> None:
        space.require(NETWORK, "build networks to train (evaluation=train); use evaluation=tabular")
        self.space = space
        self.search_on, self.report_on = check_dataset_name(search_on), check_dataset_name(report_on)
        for name, value in (("C", C), ("N", N)):
            require_int(value, f"evaluation.{name}")
        self.C, self.N = C, N
        changed = [f"evaluation.{name}={value}" for name, value, default in (("C", C, 16), ("N", N, 5))
                   if value != default]
        if changed and not space.reads_network_size:
            raise UserError(f"search_space={space.name} takes its widths and repeats from its hyperparameters, so "
                            f"{' '.join(changed)} would be ignored; drop {'it' if len(changed) == 1 else 'them'}")
        self.recipe = TrainRecipe().updated({k: _plain(v) for k, v in dict(recipe or {}).items()})
        self.max_epochs = (self.recipe.epochs if epochs is None
                           else epochs_in_range(epochs, self.recipe.epochs, "evaluation.epochs (<= recipe.epochs)"))
        set_torch_threads(threads)
        self.device = resolve_device(device)
        self.checkpoint_dir = None if checkpoint_dir in (None, "") else Path(checkpoint_dir)
        self.compile, self.amp, self.report_test = bool(compile), bool(amp), bool(report_test)
        self.epoch_listener: EpochListener | None = None  # set by the run for per-epoch progress (serial runs)

        search = load_dataset(self.search_on, data_root)
        if search.valid is None:
            raise UserError(f"{self.search_on} has no validation split in NB201's protocol, so it cannot be searched "
                             "on; search on cifar10-valid (dataset=cifar10 does so and reports cifar10)")
        self.search_data = DeviceData.from_dataset(search, self.device)
        self.report_data: DeviceData | None = None
        if self.report_test:
            report = search if self.report_on == self.search_on else load_dataset(self.report_on, data_root)
            if report.test is None:
                raise UserError(f"{self.report_on} has no test split to report")
            self.report_data = (self.search_data if report is search
                                else DeviceData.from_dataset(report, self.device))

        trained = [self.search_data]
        if self.report_data is not None and self.report_data is not self.search_data:
            trained.append(self.report_data)
        notes = [f"{data.name} {data.note}" for data in trained if data.note]
        if not self.report_test:
            notes.insert(0, "test accuracy: not measured (evaluation.report_test=false)")
        self.missing_note = "; ".join(notes)
        r = self.recipe
        fidelity = "full" if self.max_epochs == r.epochs else f"first {self.max_epochs} epochs of the"
        self.description = (
            f"trained {space.name} network (C={C}, N={N}; {fidelity} {r.epochs}-epoch cosine schedule, "
            f"SGD lr {r.learning_rate} wd {r.weight_decay} batch {r.batch_size}"
            f"{'' if r.steps_per_epoch is None else f', at most {r.steps_per_epoch} batches per epoch'})"
            f" on {self.device.type}"
            f"{', bf16' if self.amp and self.device.type == 'cuda' else ''}{', compiled' if self.compile else ''}: "
            f"search on {self.search_on} valid_acc, report {self.report_on} test_acc")

    # -- evaluation -----------------------------------------------------------------------------------------
    def fidelities(self) -> tuple[int, ...] | None:
        """Any number of epochs up to ``max_epochs`` (a trial trains the first epochs of the schedule)."""
        return None

    def reports_metric(self, name: str) -> bool:
        return name in self.metric_names()

    def metric_names(self) -> tuple[str, ...]:
        return ("params",)

    def expected_cost(self) -> None:
        """Unknown before training."""
        return None

    def optimum(self) -> None:
        """Unknown: nothing tells what the best trained network would reach."""
        return None

    def provenance(self) -> dict[str, Any]:
        return {"evaluation": "train", "search_on": self.search_on, "report_on": self.report_on,
                "note": self.missing_note}

    def evaluate(self, arch: Hashable, rng: np.random.Generator, epochs: int | None = None,
                 hyperparameters: Mapping[str, float] | None = None) -> Evaluation:
        """Train ``arch`` for ``epochs`` (None: ``max_epochs``, a full evaluation) with the recipe updated by
        ``hyperparameters`` (e.g. learning_rate, weight_decay); the torch seed is drawn from ``rng``."""
        epochs = self.max_epochs if epochs is None else epochs_in_range(epochs, self.max_epochs, "epochs")
        recipe = self.recipe.updated({k: _plain(v) for k, v in dict(hyperparameters or {}).items()})
        seed = int(rng.integers(SEED_HIGH))
        checkpoints: list[Path | None] = []
        model, result = self.train(arch, self.search_data, recipe, seed, epochs, checkpoints)
        data = self.search_data
        valid = score_split(model, data.valid, data.mean, data.std, recipe.eval_batch_size, self.amp)
        metrics = {"params": count_parameters_mb(model), "train_loss": result.history[-1].train_loss,
                   "train_acc": result.history[-1].train_acc, "valid_loss": valid.loss}
        test_acc = None
        if self.report_data is not None:
            if self.report_data is not self.search_data:
                model, _ = self.train(arch, self.report_data, recipe, seed, epochs, checkpoints)
            test_acc = self._test_accuracy(model, self.report_data, recipe)
        for path in checkpoints:  # the evaluation is complete: nothing left to resume
            delete_checkpoint(path)
        return Evaluation(value=valid.accuracy, test=test_acc, cost=result.train_seconds, seed=seed,
                          epochs=None if epochs == self.max_epochs else epochs, metrics=metrics)

    def train(self, arch: Hashable, data: DeviceData, recipe: TrainRecipe, seed: int, epochs: int,
              checkpoints: list[Path | None] | None = None) -> tuple[torch.nn.Module, TrainResult]:
        """Train a fresh network (weights from ``seed``) on ``data.train``; resumes from its checkpoint if an
        earlier, interrupted evaluation of the same training left one. Appends the checkpoint path to
        ``checkpoints``."""
        key = self.training_key(arch, data, recipe, seed)
        path = None
        if self.checkpoint_dir is not None:
            path = self.checkpoint_dir / f"{data.name}_{key}.pt"
        if checkpoints is not None:
            checkpoints.append(path)
        model = self.space.build_network(arch, seed, C=self.C, N=self.N, num_classes=data.num_classes,
                                         in_channels=int(data.train.images.shape[1]))
        trainer = Trainer(model, data, recipe, seed, amp=self.amp, compile=self.compile, checkpoint=path,
                          checkpoint_key=key)
        listener = self.epoch_listener
        on_epoch_end = None if listener is None else (lambda stats: listener(EpochProgress(
            stats.epoch, epochs, stats.seconds, stats.train_loss, stats.train_acc, data.name)))
        return trainer.model, trainer.fit(epochs, on_epoch_end=on_epoch_end)

    def training_key(self, arch: Hashable, data: DeviceData, recipe: TrainRecipe, seed: int) -> str:
        """Identifies one training: everything its result depends on, except how many epochs it runs (a truncated
        schedule is a prefix of the full one, so the key stays valid across fidelities)."""
        spec = {"arch": self.space.key(arch), "dataset": data.name, "n_train": len(data.train), "note": data.note,
                "C": self.C, "N": self.N, "recipe": recipe.as_dict(), "seed": seed, "amp": self.amp,
                "device": self.device.type}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def _test_accuracy(self, model: torch.nn.Module, data: DeviceData, recipe: TrainRecipe) -> float:
        split: DeviceSplit = data.test  # type: ignore[assignment]  # checked in __init__
        return score_split(model, split, data.mean, data.std, recipe.eval_batch_size, self.amp).accuracy
