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
        """``sum_k w_k op_k(x)``; the ``none`` term (zeros) is left out: it adds nothing, value or gradient."""
        total: torch.Tensor | None = None
        for k, name in enumerate(OPS):
            if name == "none":
                continue
            term = weights[k] * self.run(k, x)
            total = term if total is None else total + term
        return torch.zeros_like(x) if total is None else total
