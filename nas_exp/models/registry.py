"""The op registry of declared search spaces (``conf/search_space/*.yaml`` written in the space language,
``nas_exp/search_spaces/declared.py``): op name -> a module class built as ``cls(channels, stride)``.

Adding an op is one decorated class, anywhere that is imported before the space is compiled::

    @register_op("my_conv_3x3")
    class MyConv(nn.Sequential):
        def __init__(self, channels: int, stride: int = 1) -> None:
            super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(channels))

Inside a cell an op maps ``channels`` to ``channels``; ``stride`` is 1 (normal cells) or 2 (the input edges of a
reduction cell). A class that has no stride-2 form raises a ``UserError`` for ``stride=2``. A class whose output is
always zero declares ``is_zero = True``: cells skip it in their sums (the result is the same) and it removes the
edge (ConfigSpace meta ``absent``).

The NB201 ops are NB201's own modules (``operations.py``), so networks built from a declaration hold the same
module tree and state-dict keys as ``NB201Network``. The registry is the only global state of the language.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.operations import AvgPool3x3, ReLUConvBN, Zero

OP_REGISTRY: dict[str, type[nn.Module]] = {}


def register_op(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make ``cls`` the op ``name`` of the space language (a second class of one name is refused)."""

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        if name in OP_REGISTRY and OP_REGISTRY[name] is not cls:
            raise ValueError(f"op {name!r} is registered twice ({OP_REGISTRY[name].__qualname__}, {cls.__qualname__})")
        OP_REGISTRY[name] = cls
        return cls

    return decorate


def registered_ops() -> tuple[str, ...]:
    return tuple(sorted(OP_REGISTRY))


def is_zero_op(name: str) -> bool:
    return bool(getattr(OP_REGISTRY[name], "is_zero", False))


def build_registered_op(name: str, channels: int, stride: int = 1) -> nn.Module:
    if name not in OP_REGISTRY:
        raise UserError(f"unknown op {name!r}; registered ops: {', '.join(registered_ops())}")
    return OP_REGISTRY[name](channels, stride)


def _stride_one(op: str, stride: int) -> None:
    if stride != 1:
        raise UserError(f"op {op} has no stride-{stride} form (it is an NB201 op, used inside normal cells only)")


# -- NB201's ops (xautodl cell_operations.py), C -> C at stride 1 ----------------------------------------------
@register_op("none")
class NoneOp(Zero):
    """The edge carries nothing."""

    is_zero = True

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])


@register_op("skip_connect")
class SkipConnect(nn.Identity):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("skip_connect", stride)
        super().__init__()


@register_op("nor_conv_1x1")
class NorConv1x1(ReLUConvBN):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("nor_conv_1x1", stride)
        super().__init__(channels, channels, 1, padding=0)


@register_op("nor_conv_3x3")
class NorConv3x3(ReLUConvBN):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("nor_conv_3x3", stride)
        super().__init__(channels, channels, 3, padding=1)


@register_op("avg_pool_3x3")
class AvgPool3x3Op(AvgPool3x3):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("avg_pool_3x3", stride)
        super().__init__()
