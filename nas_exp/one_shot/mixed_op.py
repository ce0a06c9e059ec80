"""One edge of the supernet: each op the edge offers, with its own weights, combined three ways.

The edge's ops are columns of the layout (``SupernetLayout.ops``; ``columns``), so architecture weights are indexed
by column and a path names a column.

* mixed (DARTS): ``sum_k w_k * op_k(x)`` for softmax weights ``w``;
* sampled (uniform sampling, ENAS, SPOS, scoring a cell): ``op_index(x)`` only;
* hard (GDAS): ``w_index * op_index(x) + sum_{k != index} w_k`` for straight-through one-hot ``w``: only the chosen op
  runs, yet every ``w_k`` (zero in value) is in the graph, so the architecture gradient reaches all logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.operations import AvgPool3x3
from nas_exp.models.registry import is_zero_op
from nas_exp.one_shot.drop_path import DropPath
from nas_exp.one_shot.search_ops import search_op

NOT_DROPPED = ("none", "skip_connect")  # DARTS drops no identity path (and none carries nothing)


class MixedOp(nn.Module):
    """``ops``: the edge's op names, ``columns``: their layout columns (ascending), ``stride``: 1, or 2 on a
    reduction cell's edges from its inputs; ``pool_bn``: pools followed by a non-affine BatchNorm (DARTS)."""

    def __init__(self, channels: int, ops: Sequence[str], columns: Sequence[int] | None = None, stride: int = 1,
                 pool_bn: bool = False) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.columns = tuple(range(len(self.ops))) if columns is None else tuple(columns)
        if len(self.columns) != len(self.ops):
            raise UserError(f"a mixed edge needs one column per op, got {len(self.columns)} for {len(self.ops)}")
        self.stride = stride
        self.candidates = nn.ModuleList(search_op(name, channels, stride, pool_bn) for name in self.ops)
        self.drop_path = DropPath()
        self._slot = {column: k for k, column in enumerate(self.columns)}
        self._dropped = tuple(name not in NOT_DROPPED and not is_zero_op(name) for name in self.ops)
        self._live = tuple(k for k, name in enumerate(self.ops) if not is_zero_op(name))  # what a mixed edge computes
        # ops that start with a ReLU (NB201's ReLU-Conv-BN, DARTS' separable and dilated convolutions): a mixed edge
        # computes ReLU(x) once for all of them and runs the rest of each on it
        self._after_relu = tuple(tuple(op)[1:] if _leads_with_relu(op) else None for op in self.candidates)

    def run(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Candidate ``index`` (a position among the edge's ops) alone, with DropPath where it applies."""
        out = self.candidates[index](x)
        return self.drop_path(out) if self._dropped[index] else out

    def slot(self, column: int) -> int:
        """The position of layout column ``column`` among the edge's ops."""
        column = int(column)
        if column not in self._slot:
            raise UserError(f"op index {column} is not offered on this edge (its ops: "
                            f"{', '.join(f'{c}={op}' for c, op in zip(self.columns, self.ops))})")
        return self._slot[column]

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None, index: int | None = None) -> torch.Tensor:
        if index is None:
            if weights is None:
                raise UserError("MixedOp needs weights (mixed), an index (sampled), or both (GDAS)")
            return self.mixed(x, weights)
        k = self.slot(index)
        if weights is None:
            return self.run(k, x)
        out = weights[self.columns[k]] * self.run(k, x)
        for other, column in enumerate(self.columns):
            if other != k:
                out = out + weights[column]
        return out

    def zeros(self, x: torch.Tensor) -> torch.Tensor:
        """What the edge outputs when it carries nothing: zeros of its output shape."""
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])

    def mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_k w_k op_k(x)``; zero-op terms (``none``) are left out: they add nothing, value or gradient
        (d/dw_none = op_none(x) = 0). The convolutions' leading ReLU(x) is computed once and shared (the same
        value; one activation kept instead of one per convolution), each term is added with one fused ``addcmul``, and the pool's
        weight is folded into its 1 / count map (``AvgPool3x3.scaled``). Equal to the plain running sum of
        ``w_k * op_k(x)`` up to float rounding (``tests/test_fast_ops.py``). An NB201-op ``SearchCell`` uses it only
        with DropPath in effect; otherwise it computes its edges node by node (``SearchCell.mixed_by_source``)."""
        total: torch.Tensor | None = None
        relu: torch.Tensor | None = None
        for k in self._live:
            op, w = self.candidates[k], weights[self.columns[k]]
            if isinstance(op, AvgPool3x3):  # w_k folded into the pool's 1 / count map
                out = op.scaled(x, w)
                out = self.drop_path(out) if self._dropped[k] else out
                total = out if total is None else total + out
                continue
            tail = self._after_relu[k]
            if tail is not None:
                if relu is None:
                    relu = op[0](x)
                out = relu
                for module in tail:
                    out = module(out)
            else:
                out = op(x)
            if self._dropped[k]:
                out = self.drop_path(out)
            total = w * out if total is None else torch.addcmul(total, w, out)
        return self.zeros(x) if total is None else total


def _leads_with_relu(op: nn.Module) -> bool:
    """``op`` is a Sequential whose first module is a (not in-place) ReLU."""
    return isinstance(op, nn.Sequential) and len(op) > 1 and type(op[0]) is nn.ReLU and not op[0].inplace
