"""NB201's supernet layout and supernet for the one-shot tests (``NB201Space().supernet_layout()``)."""

from __future__ import annotations

from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.one_shot.supernet import EdgeCellSuperNet, build_supernet
from nas_exp.search_spaces.nb201 import OPS, NB201Space

NB201_LAYOUT = NB201Space().supernet_layout()


def nb201_supernet(C: int = 16, N: int = 5, num_classes: int = 10, in_channels: int = 3) -> EdgeCellSuperNet:
    net = build_supernet(NB201_LAYOUT, C, N, num_classes, in_channels)
    assert isinstance(net, EdgeCellSuperNet)
    return net


def nb201_mixed_op(channels: int) -> MixedOp:
    """One NB201 edge: the five ops in ``OPS`` order."""
    return MixedOp(channels, OPS)
