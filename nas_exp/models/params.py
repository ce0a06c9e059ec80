"""Parameter counts of any PyTorch network."""

from __future__ import annotations

from torch import nn


def count_parameters_mb(model: nn.Module) -> float:
    """Trainable parameters in millions: the unit of the NB201 table's ``params`` ("MB" there)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6
