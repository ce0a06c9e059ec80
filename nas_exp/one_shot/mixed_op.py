"""One edge of the supernet: all five NB201 ops with their own weights, combined three ways.

* mixed (DARTS): ``sum_k w_k * op_k(x)`` for softmax weights ``w``;
* sampled (uniform sampling, ENAS, SPOS, scoring a cell): ``op_index(x)`` only;
* hard (GDAS): ``w_index * op_index(x) + sum_{k != index} w_k`` for straight-through one-hot ``w``: only the chosen op
  runs, yet every ``w_k`` (zero in value) is in the graph, so the architecture gradient reaches all logits.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.operations import AvgPool3x3, ReLUConvBN
from nas_exp.one_shot.drop_path import DropPath
from nas_exp.one_shot.search_ops import search_op
from nas_exp.search_spaces.nb201 import OPS

NOT_DROPPED = ("none", "skip_connect")  # DARTS drops no identity path (and none carries nothing)


class MixedOp(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(search_op(name, channels) for name in OPS)
        self.drop_path = DropPath()
        self._dropped = tuple(name not in NOT_DROPPED for name in OPS)
        self._live = tuple(k for k, name in enumerate(OPS) if name != "none")  # the ops a mixed edge computes

    def run(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Candidate ``index`` alone (with DropPath where it applies)."""
        out = self.candidates[index](x)
        return self.drop_path(out) if self._dropped[index] else out

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None, index: int | None = None) -> torch.Tensor:
        if index is None:
            if weights is None:
                raise UserError("MixedOp needs weights (mixed), an index (sampled), or both (GDAS)")
            return self.mixed(x, weights)
        index = int(index)
        if not 0 <= index < len(OPS):
            raise UserError(f"op index {index} is out of range 0..{len(OPS) - 1}")
        if weights is None:
            return self.run(index, x)
        out = weights[index] * self.run(index, x)
        for k in range(len(OPS)):
            if k != index:
                out = out + weights[k]
        return out

    def mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_k w_k op_k(x)``; the ``none`` term (zeros) is left out: it adds nothing, value or gradient
        (d/dw_none = op_none(x) = 0). The two convolutions' leading ReLU(x) is computed once and shared (the same
        value; one activation kept instead of two), each term is added with one fused ``addcmul``, and the pool's
        weight is folded into its 1 / count map (``AvgPool3x3.scaled``). Equal to the plain running sum of
        ``w_k * op_k(x)`` up to float rounding (``tests/test_fast_ops.py``). A DARTS ``SearchCell`` uses it only
        with DropPath in effect; otherwise it computes its edges node by node (``SearchCell.mixed_by_source``)."""
        total: torch.Tensor | None = None
        relu: torch.Tensor | None = None
        for k in self._live:
            op = self.candidates[k]
            if isinstance(op, AvgPool3x3):  # w_k folded into the pool's 1 / count map
                out = op.scaled(x, weights[k])
                out = self.drop_path(out) if self._dropped[k] else out
                total = out if total is None else total + out
                continue
            if isinstance(op, ReLUConvBN):
                if relu is None:
                    relu = op[0](x)
                out = op[2](op[1](relu))
            else:
                out = op(x)
            if self._dropped[k]:
                out = self.drop_path(out)
            total = weights[k] * out if total is None else torch.addcmul(total, weights[k], out)
        return torch.zeros_like(x) if total is None else total
