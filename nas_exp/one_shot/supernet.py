"""The weight-sharing supernet of a cell space, built from its ``SupernetLayout`` (``space.supernet_layout()``):
nothing here knows a space by name.

* Edge cells (NB201's and every declared edge cell; ``EdgeCellSkeleton``): NB201's search network
  (``xautodl/models/cell_searchs``: TinyNetworkDarts / GDAS / ENAS / ...): stem Conv3x3 + BN, one stage of N search
  cells per width (C, 2C, 4C for NB201) joined by ResNet reduction blocks, head BN -> ReLU -> global pool -> Linear.
* Node-input cells (DARTS'; ``NodeInputSkeleton``): DARTS' search network (quark0/darts ``cnn/model_search.py``):
  stem Conv3x3 to ``stem_multiplier * C`` + BN, ``layers(N)`` cells with reduction cells doubling the channels,
  every cell fed the two previous cells' outputs and concatenating its intermediate nodes, head pool -> Linear.

Every edge of every search cell is a ``MixedOp`` holding the ops it offers; all cells of a type share one
architecture, given to ``forward`` as

* ``weights`` (edges x ops, the layout's shape) only: mixed ops (DARTS);
* ``path`` (a layout column per edge, -1: the edge carries nothing) only: one op per edge (uniform sampling, ENAS,
  SPOS, scoring a cell);
* both: GDAS' hard one-hot weights, only ``path``'s ops computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.network import check_macro, stem
from nas_exp.models.operations import ReLUConvBN, ResNetBasicBlock, box_sum_and_inv_count
from nas_exp.models.registry import FactorizedReduce
from nas_exp.one_shot.drop_path import check_prob
from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.one_shot.search_ops import non_affine
from nas_exp.search_spaces.supernet_layout import EdgeCellSkeleton, NodeInputSkeleton, SupernetLayout

FAST_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # the node-by-node path's ops
SKIP, CONV1, CONV3, POOL = (FAST_OPS.index(name) for name in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                              "avg_pool_3x3"))


class SearchCell(nn.Module):
    """An edge cell: node j = the sum of edge(node i) over its input edges i -> j (in the layout's edge order), nodes
    in ``skeleton.node_order``; the output is the last node. ``edges``: one ``MixedOp`` per layout edge."""

    by_source = True  # the mixed forward node by node (``mixed_by_source``) where it applies; False: edge by edge

    def __init__(self, layout: SupernetLayout, channels: int) -> None:
        super().__init__()
        skeleton = layout.skeleton
        assert isinstance(skeleton, EdgeCellSkeleton)
        self.nodes, self.node_order = skeleton.nodes, skeleton.node_order
        self.links = tuple((e.frm, e.to) for e in layout.edges)
        self.edges = nn.ModuleList(MixedOp(channels, [layout.ops[c] for c in e.columns], e.columns)
                                   for e in layout.edges)
        # the node-by-node DARTS forward needs NB201's five ops on every edge, in NB201's column order
        self._fast_ops = layout.ops == FAST_OPS and layout.full
        sources = (0, *self.node_order[:-1])
        self._out_edges = tuple((node, tuple(pos for pos, (frm, _) in enumerate(self.links) if frm == node))
                                for node in sources)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        if weights is not None and path is None and self.by_source and self._can_go_by_source():
            return self.mixed_by_source(x, weights)
        nodes: dict[int, torch.Tensor] = {0: x}
        for node in self.node_order:
            total: torch.Tensor | None = None
            for pos, (frm, to) in enumerate(self.links):
                if to != node or (path is not None and path[pos] < 0):
                    continue
                term = self.edges[pos](nodes[frm], None if weights is None else weights[pos],
                                       None if path is None else path[pos])
                total = term if total is None else total + term
            nodes[node] = torch.zeros_like(x) if total is None else total
        return nodes[self.node_order[-1]]

    def _can_go_by_source(self) -> bool:
        """NB201's ops on every edge, no DropPath in effect (its masks are drawn edge by edge, op by op) and
        BatchNorms with a momentum."""
        if not self._fast_ops:
            return False
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
        Terms are added edge by edge by source node (node 0's edges, then the next node's, in ``node_order``), each
        edge's as conv3x3, conv1x1, skip, pool."""
        nodes: dict[int, torch.Tensor] = {0: x}
        for node, out in self._out_edges:
            source = nodes[node]
            relu = F.relu(source)
            box, inv_count = box_sum_and_inv_count(source)
            for pos in out:
                edge, w, to = self.edges[pos], weights[pos], self.links[pos][1]
                term3 = _scaled_conv_bn(edge.candidates[CONV3], relu, w[CONV3])
                acc = nodes.get(to)
                if acc is None:
                    acc = nodes[to] = term3
                else:
                    acc.add_(term3)
                acc.add_(_scaled_conv_bn(edge.candidates[CONV1], relu, w[CONV1]))
                acc.addcmul_(source, w[SKIP])
                acc.addcmul_(box, w[POOL] * inv_count)
        return nodes[self.node_order[-1]]


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


class SuperNet(nn.Module):
    """What every supernet offers: its layout, its mixed edges, DropPath; ``forward`` returns the logits."""

    layout: SupernetLayout

    def mixed_ops(self) -> Iterator[MixedOp]:
        return (m for m in self.modules() if isinstance(m, MixedOp))

    def set_drop_path(self, p: float, generator: torch.Generator | None = None) -> None:
        """DropPath probability (and mask generator) of every edge."""
        p = check_prob(p)
        for op in self.mixed_ops():
            op.drop_path.p = p
            op.drop_path.generator = generator

    def check_choice(self, weights: torch.Tensor | None, path: Sequence[int] | None) -> None:
        """One-line errors for a malformed architecture argument."""
        shape, n = self.layout.shape, len(self.layout.edges)
        if weights is None and path is None:
            raise UserError(f"the supernet needs architecture weights {shape}, a path of {n} op indices, or both")
        if weights is not None and tuple(weights.shape) != shape:
            raise UserError(f"architecture weights must have shape {shape}, got {tuple(weights.shape)}")
        if path is not None and len(path) != n:
            raise UserError(f"a path needs {n} op indices (one per edge), got {len(path)}")


class EdgeCellSuperNet(SuperNet):
    """The supernet of an edge cell (``EdgeCellSkeleton``), module names as NB201's search network."""

    def __init__(self, layout: SupernetLayout, C: int = 16, N: int = 5, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        skeleton = layout.skeleton
        if not isinstance(skeleton, EdgeCellSkeleton):
            raise UserError(f"an edge-cell supernet needs an edge-cell layout, got {type(skeleton).__name__}")
        check_macro("supernet", C, N, num_classes)
        self.layout = layout
        self.stem = stem(in_channels, C)
        cells: list[nn.Module] = []
        channels = C
        for stage, width in enumerate(skeleton.widths):
            if stage > 0:
                cells.append(ResNetBasicBlock(channels, width * C))
            channels = width * C
            cells.extend(SearchCell(layout, channels) for _ in range(N))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        self.check_choice(weights, path)
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, weights, path) if isinstance(cell, SearchCell) else cell(x)
        features = self.lastact(x)
        return self.classifier(torch.flatten(self.global_pooling(features), 1))


class NodeInputSearchCell(nn.Module):
    """A DARTS search cell: node j = the sum over its predecessors i of edge_{i->j}(node i), nodes 0 and 1 the
    preprocessed cell inputs (non-affine ReLU-Conv1x1-BN; FactorizedReduce after a reduction cell); the output is
    the intermediate nodes concatenated. ``rows``: the layout rows of this cell's type, in the layout's order."""

    def __init__(self, layout: SupernetLayout, cell_type: int, c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        skeleton = layout.skeleton
        assert isinstance(skeleton, NodeInputSkeleton)
        self.reduction, self.inputs = reduction, skeleton.inputs
        self.preprocess0 = non_affine(FactorizedReduce(c_prev_prev, channels) if reduction_prev
                                      else ReLUConvBN(c_prev_prev, channels, 1, 1, 0))
        self.preprocess1 = non_affine(ReLUConvBN(c_prev, channels, 1, 1, 0))
        self.rows = tuple(row for row, e in enumerate(layout.edges) if e.cell_type == cell_type)
        self.links = tuple((layout.edges[row].frm, layout.edges[row].to) for row in self.rows)
        self.edges = nn.ModuleList(
            MixedOp(channels, [layout.ops[c] for c in layout.edges[row].columns], layout.edges[row].columns,
                    stride=2 if reduction and layout.edges[row].frm < skeleton.inputs else 1, pool_bn=True)
            for row in self.rows)
        self.node_ids = tuple(range(skeleton.inputs, skeleton.inputs + skeleton.intermediate))
        self.multiplier = skeleton.intermediate

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in self.node_ids:
            total: torch.Tensor | None = None
            for pos, (frm, to) in enumerate(self.links):
                row = self.rows[pos]
                if to != node or (path is not None and path[row] < 0):
                    continue
                term = self.edges[pos](states[frm], None if weights is None else weights[row],
                                       None if path is None else path[row])
                total = term if total is None else total + term
            if total is None:  # a node none of whose inputs is on the path (not a cell of the space)
                total = self.edges[0].zeros(states[0])
            states.append(total)
        return torch.cat(states[self.inputs:], dim=1)


class NodeInputSuperNet(SuperNet):
    """DARTS' search network over a node-input cell (``NodeInputSkeleton``): module names as DARTS' (``stem``,
    ``cells``, ``global_pooling``, ``classifier``)."""

    def __init__(self, layout: SupernetLayout, C: int = 16, N: int = 5, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        skeleton = layout.skeleton
        if not isinstance(skeleton, NodeInputSkeleton):
            raise UserError(f"a DARTS supernet needs a node-input layout, got {type(skeleton).__name__}")
        check_macro("supernet", C, N, num_classes)
        self.layout = layout
        layers = skeleton.layers(N)
        c_curr = skeleton.stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, C
        reductions = set(skeleton.reduction_layers(layers))
        self.cells = nn.ModuleList()
        reduction_prev = False
        for layer in range(layers):
            reduction = layer in reductions
            if reduction:
                c_curr *= 2
            cell_type = 1 if reduction and skeleton.cell_types > 1 else 0
            cell = NodeInputSearchCell(layout, cell_type, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None,
                path: Sequence[int] | None = None) -> torch.Tensor:
        self.check_choice(weights, path)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights, path)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))


def build_supernet(layout: SupernetLayout, C: int = 16, N: int = 5, num_classes: int = 10,
                   in_channels: int = 3) -> SuperNet:
    """The supernet of ``layout``'s skeleton."""
    if isinstance(layout.skeleton, NodeInputSkeleton):
        return NodeInputSuperNet(layout, C, N, num_classes, in_channels)
    return EdgeCellSuperNet(layout, C, N, num_classes, in_channels)
