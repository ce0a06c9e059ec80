"""NB201's search network (``xautodl/models/cell_searchs``: TinyNetworkDarts / GDAS / ENAS / ...) in one module.

The macro skeleton of ``NB201Network``: stem Conv3x3 + BN, three stages of N search cells with C, 2C, 4C channels
joined by ResNet reduction blocks, head BN -> ReLU -> global pool -> Linear. Every edge of every search cell is a
``MixedOp`` holding all five ops; all cells share one architecture, given to ``forward`` as

* ``weights`` (6, 5) only: mixed ops (DARTS);
* ``path`` (6 op indices) only: one op per edge (uniform sampling, ENAS, SPOS, scoring a cell);
* both: GDAS' hard one-hot weights, only ``path``'s ops computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.network import check_macro, macro_cells, stem
from nas_exp.one_shot.drop_path import check_prob
from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.search_spaces.nb201 import EDGES, N_EDGES, OPS

N_NODES = 4
ARCH_SHAPE = (N_EDGES, len(OPS))


class SearchCell(nn.Module):
    """Node j = sum over i < j of edge_{j<-i}(node i); the output is node 3. ``edges`` in ``EDGES`` order."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(channels) for _ in EDGES)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        nodes = [x]
        for node in range(1, N_NODES):
            total: torch.Tensor | None = None
            for pos, (to, frm) in enumerate(EDGES):
                if to != node:
                    continue
                term = self.edges[pos](nodes[frm], None if weights is None else weights[pos],
                                       None if path is None else path[pos])
                total = term if total is None else total + term
            nodes.append(total)
        return nodes[-1]


class NB201SuperNet(nn.Module):
    """The weight-sharing supernet; ``forward`` returns the logits."""

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        check_macro("NB201 supernet", C, N, num_classes)
        self.stem = stem(in_channels, C)
        cells, channels = macro_cells(C, N, SearchCell)
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        check_choice(weights, path)
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, weights, path) if isinstance(cell, SearchCell) else cell(x)
        features = self.lastact(x)
        return self.classifier(torch.flatten(self.global_pooling(features), 1))

    def mixed_ops(self) -> Iterator[MixedOp]:
        return (m for m in self.modules() if isinstance(m, MixedOp))

    def set_drop_path(self, p: float, generator: torch.Generator | None = None) -> None:
        """DropPath probability (and mask generator) of every edge."""
        p = check_prob(p)
        for op in self.mixed_ops():
            op.drop_path.p = p
            op.drop_path.generator = generator


def check_choice(weights: torch.Tensor | None, path: Sequence[int] | None) -> None:
    """One-line errors for a malformed architecture argument."""
    if weights is None and path is None:
        raise UserError("the supernet needs architecture weights (6, 5), a path of 6 op indices, or both")
    if weights is not None and tuple(weights.shape) != ARCH_SHAPE:
        raise UserError(f"architecture weights must have shape {ARCH_SHAPE}, got {tuple(weights.shape)}")
    if path is not None and len(path) != N_EDGES:
        raise UserError(f"a path needs {N_EDGES} op indices (one per edge), got {len(path)}")
