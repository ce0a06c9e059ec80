"""One-shot accuracy of a single cell: the supernet restricted to that cell's path, on fixed valid batches.

BatchNorm in a supernet keeps running statistics of a mixture of paths, which fit no single path. Two remedies
(``bn_mode``): ``train`` normalizes each batch with its own statistics (running statistics left untouched);
``recalibrate`` re-estimates the running statistics for the path on a few train batches and scores in eval mode.
Either way the supernet's statistics are restored afterwards, and DropPath is off while scoring.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nas_exp.errors import UserError
from nas_exp.one_shot.batches import Batch
from nas_exp.one_shot.settings import BN_MODES


def batch_norms(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@contextlib.contextmanager
def evaluation_modes(model: nn.Module) -> Iterator[list[_BatchNorm]]:
    """Eval mode for the model (DropPath off), restoring each module's own mode and BN momentum afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    norms = batch_norms(model)
    momenta = [bn.momentum for bn in norms]
    model.eval()
    try:
        yield norms
    finally:
        for module, training in modes:
            module.training = training
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum


@contextlib.contextmanager
def saved_bn_buffers(norms: Sequence[_BatchNorm]) -> Iterator[None]:
    saved = [{k: v.clone() for k, v in bn.named_buffers()} for bn in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for bn, buffers in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(bn, name).copy_(value)


def _accuracy(model: nn.Module, path: Sequence[int], batches: Iterable[Batch]) -> float:
    correct, seen = 0, 0
    for images, labels in batches:
        correct += int((model(images, path=path).argmax(dim=1) == labels).sum().item())
        seen += len(labels)
    if seen == 0:
        raise UserError("no valid batches to score on")
    return 100.0 * correct / seen


@torch.no_grad()
def oneshot_accuracy(model: nn.Module, path: Sequence[int], batches: Iterable[Batch], bn_mode: str = "train",
                     recalibration: Iterable[Batch] = ()) -> float:
    """Top-1 accuracy (%) of ``model(x, path=path)`` on ``batches``; the model's modes, BN statistics and
    momenta are as before afterwards."""
    if bn_mode not in BN_MODES:
        raise UserError(f"unknown bn_mode {bn_mode!r}; valid: {', '.join(BN_MODES)}")
    with evaluation_modes(model) as norms, saved_bn_buffers(norms):
        if bn_mode == "train":
            for bn in norms:  # each batch normalized with its own statistics
                bn.train()
            return _accuracy(model, path, batches)
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the recalibration batches
            bn.train()
        n = 0
        for images, _ in recalibration:
            model(images, path=path)
            n += 1
        if n == 0:
            raise UserError("bn_mode=recalibrate needs at least one recalibration batch")
        for bn in norms:
            bn.eval()
        return _accuracy(model, path, batches)
