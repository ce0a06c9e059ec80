"""NB201's inferred network (``xautodl/models/cell_infers/tiny_network.py: TinyNetwork``) for one cell.

stem Conv3x3(3 -> C, no bias) + BN; three stages of N cells with C, 2C, 4C channels, joined by ResNet basic
reduction blocks (stride 2); head BN -> ReLU -> global average pool -> Linear. With C=16, N=5 the parameter counts
equal the NB201 table's ``params`` (in millions), e.g. 1.53 M for the all-nor_conv_3x3 cell with 10 classes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nas_exp.checks import require_int
from nas_exp.models.cell import InferCell
from nas_exp.models.operations import ResNetBasicBlock
from nas_exp.search_spaces.nb201 import Arch
from nas_exp.models.params import count_parameters_mb  # noqa: F401 - re-exported


def check_macro(what: str, C: int, N: int, num_classes: int) -> None:
    """One-line errors for a bad macro skeleton setting."""
    for name, value, low in (("C", C, 1), ("N", N, 1), ("num_classes", num_classes, 2)):
        require_int(value, f"{what}: {name}", low)


def stem(in_channels: int, C: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))


def macro_cells(C: int, N: int, make_cell: Callable[[int], nn.Module]) -> tuple[list[nn.Module], int]:
    """NB201's body: 3 stages of ``N`` cells with C, 2C, 4C channels, a residual reduction block between stages;
    returns the modules and the output channels."""
    cells: list[nn.Module] = []
    channels = C
    for stage, width in enumerate((C, 2 * C, 4 * C)):
        if stage > 0:
            cells.append(ResNetBasicBlock(channels, width))
            channels = width
        cells.extend(make_cell(width) for _ in range(N))
    return cells, channels


class NB201Network(nn.Module):
    """The network NB201 trains for ``arch``; ``forward`` returns the logits."""

    def __init__(self, arch: Arch, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        check_macro("NB201 network", C, N, num_classes)
        self.arch = Arch(arch)
        self.stem = stem(in_channels, C)
        cells, channels = macro_cells(C, N, lambda width: InferCell(self.arch, width))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(features), 1))


def seeded_network(arch: Arch, seed: int, C: int = 16, N: int = 5, num_classes: int = 10,
                   in_channels: int = 3) -> NB201Network:
    """``NB201Network`` with weights initialized from torch seed ``seed`` (PyTorch's default init), on the CPU.
    The global torch RNG is forked, so the caller's random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return NB201Network(arch, C=C, N=N, num_classes=num_classes, in_channels=in_channels)
