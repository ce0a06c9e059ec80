"""The candidate ops of a search cell: NB201's ops (``nas_exp.models.operations``) with BatchNorm ``affine=False``,
as in NB201's search models (``SearchCell(..., affine=False, track_running_stats=True)``)."""

from __future__ import annotations

from torch import nn

from nas_exp.models.operations import ReLUConvBN, build_op


def search_op(name: str, channels: int) -> nn.Module:
    """Op ``name`` on ``channels`` channels with a non-affine BatchNorm (convolutions); other ops are unchanged.
    Its state dict loads into the stand-alone op (``build_op``) with ``strict=False`` (the affine weight and bias
    stay at 1 and 0, so both compute the same)."""
    op = build_op(name, channels)
    if isinstance(op, ReLUConvBN):
        op[2] = nn.BatchNorm2d(channels, affine=False, track_running_stats=True)
    return op
