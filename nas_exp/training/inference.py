"""Accuracy and loss of a trained network on a device-resident split (eval mode: BatchNorm running statistics)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.training.augment import normalize
from nas_exp.training.device import autocast, memory_format
from nas_exp.training.device_data import DeviceSplit


@dataclass(frozen=True)
class SplitScore:
    accuracy: float  # top-1, %
    loss: float  # mean cross-entropy


@torch.inference_mode()
def score_split(model: nn.Module, split: DeviceSplit, mean: torch.Tensor, std: torch.Tensor, batch_size: int = 1024,
                amp: bool = True) -> SplitScore:
    """Top-1 accuracy (%) and mean loss of ``model`` on ``split``, in batches of ``batch_size``."""
    device = split.images.device
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    try:
        for start in range(0, len(split), batch_size):
            images = split.images[start:start + batch_size]
            labels = split.labels[start:start + batch_size]
            with autocast(device, amp):
                logits = model(normalize(images, mean, std, memory_format(device)))
            loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").double()
            correct += (logits.argmax(dim=1) == labels).sum()
    finally:
        model.train(was_training)
    n = max(len(split), 1)
    return SplitScore(accuracy=100.0 * correct.item() / n, loss=loss_sum.item() / n)
