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
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.network import check_macro, macro_cells, stem
from nas_exp.one_shot.drop_path import check_prob
from nas_exp.models.operations import box_sum_and_inv_count
from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.search_spaces.nb201 import EDGES, N_EDGES, OPS

N_NODES = 4
ARCH_SHAPE = (N_EDGES, len(OPS))
SKIP, CONV1, CONV3, POOL = (OPS.index(name) for name in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                         "avg_pool_3x3"))
OUT_EDGES = tuple(tuple(pos for pos, (_, frm) in enumerate(EDGES) if frm == node) for node in range(N_NODES - 1))


class SearchCell(nn.Module):
    """Node j = sum over i < j of edge_{j<-i}(node i); the output is node 3. ``edges`` in ``EDGES`` order."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(channels) for _ in EDGES)

    by_source = True  # the mixed forward node by node (``mixed_by_source``) where it applies; False: edge by edge

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        if weights is not None and path is None and self.by_source and self._can_go_by_source():
            return self.mixed_by_source(x, weights)
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

    def _can_go_by_source(self) -> bool:
        """No DropPath in effect (its masks are drawn edge by edge, op by op) and BatchNorms with a momentum."""
        for edge in self.edges:
            if edge.drop_path.training and edge.drop_path.p > 0.0:
                return False
            if edge.candidates[CONV1][2].momentum is None or edge.candidates[CONV3][2].momentum is None:
                return False
        return True

    def mixed_by_source(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The DARTS cell computed node by node, over the edges *leaving* each node once it is complete: equal to the
        edge-by-edge ``node_j = sum_{i<j} sum_k w_{ij,k} op_k(node_i)`` (``MixedOp.mixed``) up to float rounding,
        with less memory traffic on the CPU:

        * all edges leaving a node share one ReLU(node) (NB201's convolutions are ReLU -> Conv -> BN);
        * each convolution's alpha weight is its BatchNorm's affine weight: ``w * BN(c)`` in one pass forward and
          backward, and the normalised output is not kept for the alpha gradient (the BNs are non-affine; their
          running statistics are updated as the BN module would);
        * the pool (no parameters) is computed once per node, as its zero-padded 3x3 sum, scaled per edge by
          ``w_pool / count``;
        * each node is accumulated in place: the first conv term's output, then ``add_`` / ``addcmul_`` of the
          other terms (no temporary per term; autograd keeps nothing of the sum);
        * ``none`` is left out (``d/dw_none = 0``, as in ``MixedOp.mixed``).
        Terms are added edge by edge in ``EDGES``-by-source order (node 0's edges, then node 1's, then node 2's), each
        edge's as conv3x3, conv1x1, skip, pool."""
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for node, out in enumerate(OUT_EDGES):
            source = nodes[node]
            assert source is not None
            relu = F.relu(source)
            box, inv_count = box_sum_and_inv_count(source)
            for pos in out:
                edge, w, to = self.edges[pos], weights[pos], EDGES[pos][0]
                term3 = _scaled_conv_bn(edge.candidates[CONV3], relu, w[CONV3])
                acc = nodes[to]
                if acc is None:
                    acc = nodes[to] = term3
                else:
                    acc.add_(term3)
                acc.add_(_scaled_conv_bn(edge.candidates[CONV1], relu, w[CONV1]))
                acc.addcmul_(source, w[SKIP])
                acc.addcmul_(box, w[POOL] * inv_count)
        assert nodes[-1] is not None
        return nodes[-1]


def _scaled_conv_bn(op: nn.Sequential, relu: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale * op(x)`` for NB201's ReLU -> Conv -> non-affine BN ``op`` given ``relu = ReLU(x)``: the scale as the
    BN's affine weight (repeated: an expanded, stride-0 weight gave NaN gradients in channels_last on the CPU), the
    BN's running statistics (and batch count) updated as ``op[2](...)`` updates them."""
    conv, bn = op[1], op[2]
    out = conv(relu)
    if bn.training and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    return F.batch_norm(out, bn.running_mean, bn.running_var, scale.repeat(bn.num_features), None,
                        batch_stats, bn.momentum, bn.eps)


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
