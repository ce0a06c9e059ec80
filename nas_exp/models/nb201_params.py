"""NB201's network parameter count without building it (no torch): what ``NB201Network`` has, in millions.

Stem Conv3x3(3->C) + BN; per stage (C, 2C, 4C channels) N cells whose conv edges are ReLU-Conv-BN (k*k*c*c
weights + 2c affine BN parameters; pooling, skip and zero have none); between stages a ResNet basic block
(Conv3x3 stride 2 + Conv3x3, each with BN, and a 1x1 shortcut conv); head BN(4C) + Linear(4C -> classes)."""

from __future__ import annotations

from collections.abc import Sequence

KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


def nb201_parameters_mb(ops: Sequence[str], C: int = 16, N: int = 5, num_classes: int = 10,
                        in_channels: int = 3) -> float:
    """Trainable parameters of NB201's network for the cell ``ops`` (6 op names in edge order), in millions."""
    total = 9 * in_channels * C + 2 * C  # stem
    for stage, channels in enumerate((C, 2 * C, 4 * C)):
        per_cell = sum(KERNEL[op] ** 2 * channels * channels + 2 * channels for op in ops if op in KERNEL)
        total += N * per_cell
        if stage < 2:  # reduction block to 2 * channels
            out = 2 * channels
            total += 9 * channels * out + 2 * out + 9 * out * out + 2 * out + channels * out
    total += 2 * 4 * C + 4 * C * num_classes + num_classes  # head
    return total / 1e6
