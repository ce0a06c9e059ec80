"""The candidate ops of a search cell: the ops of the space language's registry (``nas_exp/models/registry.py``)
with every BatchNorm ``affine=False``, as in NB201's and DARTS' search models (``SearchCell(..., affine=False,
track_running_stats=True)``; DARTS' ``MixedOp``: ``OPS[primitive](C, stride, False)``). DARTS' search cell also
follows each pool with a non-affine BatchNorm (``pool_bn``)."""

from __future__ import annotations

from torch import nn

from nas_exp.models.registry import build_registered_op


def non_affine(module: nn.Module) -> nn.Module:
    """``module`` with each of its BatchNorm2d (itself included) replaced by a non-affine one of the same size; a
    state dict of the affine module loads with ``strict=False`` (weight and bias at 1 and 0 compute the same)."""
    if isinstance(module, nn.BatchNorm2d):
        return nn.BatchNorm2d(module.num_features, affine=False, track_running_stats=True)
    for name, child in list(module.named_children()):
        replaced = non_affine(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module


def search_op(name: str, channels: int, stride: int = 1, pool_bn: bool = False) -> nn.Module:
    """Op ``name`` on ``channels`` channels (``stride``) with non-affine BatchNorms; ``pool_bn``: a pool is followed
    by a non-affine BatchNorm (DARTS' search cell)."""
    op = non_affine(build_registered_op(name, channels, stride))
    if pool_bn and "pool" in name:
        op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=False, track_running_stats=True))
    return op
