"""The network of a declared cell space (``nas_exp/search_spaces/declared.py``) for one architecture.

The macro skeleton is built in NB201's module order and with NB201's attribute names (``stem``, ``cells``,
``lastact``, ``global_pooling``, ``classifier``; a cell's ops in ``edges``, in declaration order), so for the NB201
declaration the network is ``NB201Network``: same state-dict keys, same weights from the same seed, same outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas_exp.models.network import check_macro, stem
from nas_exp.models.operations import ResNetBasicBlock
from nas_exp.models.registry import build_registered_op, is_zero_op
from nas_exp.search_spaces.declared import CellDeclaration
from nas_exp.search_spaces.supernet_layout import topological_order


class DeclaredCell(nn.Module):
    """Node j (j >= 1, in order) = the sum of op(node i) over its input edges i->j, by source node; the output is
    the last node. Zero ops are skipped in the sums (same result), nodes that reach the output only through zero
    ops are not computed, and a node whose inputs are all zero ops is zeros. Channels and resolution are kept."""

    def __init__(self, decl: CellDeclaration, arch: Sequence[str], channels: int) -> None:
        super().__init__()
        self.arch = tuple(arch)
        self.edges = nn.ModuleList(build_registered_op(op, channels) for op in self.arch)
        self._inputs = tuple(
            tuple((pos, e.frm) for pos, e in decl.inputs_of(node) if not is_zero_op(self.arch[pos]))
            for node in range(decl.nodes))
        self._order = topological_order(decl.nodes, [(e.frm, e.to) for e in decl.edges])
        needed = {decl.output}
        for node in reversed(self._order):
            if node in needed:
                needed.update(frm for _, frm in self._inputs[node])
        self._needed = frozenset(needed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        for node in self._order:
            if node not in self._needed:
                continue
            terms = [self.edges[pos](nodes[frm]) for pos, frm in self._inputs[node]]
            if not terms:
                nodes[node] = torch.zeros_like(x)
                continue
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            nodes[node] = total
        return nodes[len(self._inputs) - 1]


class DeclaredNetwork(nn.Module):
    """stem -> stages of N cells (width * C channels each), a reduction block between stages -> head."""

    def __init__(self, decl: CellDeclaration, arch: Sequence[str], C: int = 16, N: int = 5, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        check_macro(f"{decl.name} network", C, N, num_classes)
        self.arch = tuple(arch)
        self.stem = stem(in_channels, C)  # macro.stem: conv3x3_bn (the only one so far)
        cells: list[nn.Module] = []
        channels = C
        for stage, width in enumerate(decl.macro.widths):
            if stage > 0:
                cells.append(ResNetBasicBlock(channels, width * C))  # macro.reduction: resnet_basic
            channels = width * C
            cells.extend(DeclaredCell(decl, self.arch, channels) for _ in range(N))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))  # head: bn_relu_pool_linear
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.global_pooling(features), 1))


def seeded_declared_network(decl: CellDeclaration, arch: Sequence[str], seed: int, C: int = 16, N: int = 5,
                            num_classes: int = 10, in_channels: int = 3) -> DeclaredNetwork:
    """``DeclaredNetwork`` initialized from torch seed ``seed`` on the CPU; the caller's RNG state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DeclaredNetwork(decl, arch, C=C, N=N, num_classes=num_classes, in_channels=in_channels)
