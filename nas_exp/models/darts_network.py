"""The network of a node-input-choice cell space (``nas_exp/search_spaces/declared_inputs.py``): DARTS' evaluation
network (Liu et al. 2019, quark0/darts ``cnn/model.py`` ``NetworkCIFAR``) without its auxiliary head and drop-path.

stem: Conv3x3(in -> stem_multiplier * C, no bias) + BN, its output fed to the first cell as both c_{k-2} and
c_{k-1}; ``layers = (reductions + 1) * N + reductions`` cells (N: normal cells per stage, as NB201's N; DARTS' 20
layers are N=6), reduction cells at ``k * layers // (reductions + 1)`` doubling the channels; every cell takes the
two previous cells' outputs, preprocessed to its C channels (c_{k-2}: ReLU-Conv1x1-BN, or FactorizedReduce after a
reduction cell; c_{k-1}: ReLU-Conv1x1-BN), and outputs the concatenation of its intermediate nodes; head: global
average pool + Linear. Module names follow DARTS' (``stem``, ``cells``, ``preprocess0/1``, ``global_pooling``,
``classifier``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas_exp.models.network import check_macro
from nas_exp.models.operations import ReLUConvBN
from nas_exp.models.registry import FactorizedReduce, build_registered_op
from nas_exp.search_spaces.declared_inputs import NodeInputDeclaration


class NodeInputCell(nn.Module):
    """Node j = the sum of op(node i) over its chosen inputs (nodes 0, 1: the preprocessed cell inputs); output: the
    intermediate nodes concatenated (``intermediate * channels`` channels). In a reduction cell the ops on edges
    from nodes 0 and 1 have stride 2."""

    def __init__(self, cell: Sequence[Sequence[tuple[str, int]]], c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool, inputs: int = 2) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(c_prev_prev, channels) if reduction_prev
                            else ReLUConvBN(c_prev_prev, channels, 1, 1, 0))
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0)
        self._inputs = tuple(tuple(i for _, i in node) for node in cell)
        self._ops = nn.ModuleList(build_registered_op(op, channels, stride=2 if reduction and i < inputs else 1)
                                  for node in cell for op, i in node)
        self.multiplier = len(cell)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        pos = 0
        for froms in self._inputs:
            total = None
            for i in froms:
                term = self._ops[pos](states[i])
                pos += 1
                total = term if total is None else total + term
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    def __init__(self, decl: NodeInputDeclaration, arch: Sequence, C: int = 16, N: int = 6, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        check_macro(f"{decl.name} network", C, N, num_classes)
        macro = decl.macro
        self.arch = tuple(arch)
        self.layers = macro.layers(N)
        c_curr = macro.stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, C
        reductions = set(macro.reduction_layers(self.layers))
        self.cells = nn.ModuleList()
        reduction_prev = False
        for layer in range(self.layers):
            reduction = layer in reductions
            if reduction:
                c_curr *= 2
            genotype = self.arch[-1] if reduction else self.arch[0]  # types [normal]: reduction cells share it
            cell = NodeInputCell(genotype, c_prev_prev, c_prev, c_curr, reduction, reduction_prev, decl.inputs)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))


def seeded_darts_network(decl: NodeInputDeclaration, arch: Sequence, seed: int, C: int = 16, N: int = 6,
                         num_classes: int = 10, in_channels: int = 3) -> DartsNetwork:
    """``DartsNetwork`` initialized from torch seed ``seed`` on the CPU; the caller's RNG state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DartsNetwork(decl, arch, C=C, N=N, num_classes=num_classes, in_channels=in_channels)
