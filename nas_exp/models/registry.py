"""The op registry of declared search spaces (``conf/search_space/*.yaml`` written in the space language,
``nas_exp/search_spaces/declared.py``): op name -> a module class (or factory) built as ``cls(channels, stride)``.

Adding an op is one decorated class, anywhere that is imported before the space is compiled::

    @register_op("my_conv_3x3")
    class MyConv(nn.Sequential):
        def __init__(self, channels: int, stride: int = 1) -> None:
            super().__init__(nn.ReLU(), nn.Conv2d(channels, channels, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(channels))

Inside a cell an op maps ``channels`` to ``channels``; ``stride`` is 1 (normal cells) or 2 (the edges leaving a
reduction cell's inputs). A class that has no stride-2 form raises a ``UserError`` for ``stride=2``. A class whose
output is always zero declares ``is_zero = True``: cells skip it in their sums (the result is the same) and it
removes the edge (ConfigSpace meta ``absent``).

The NB201 ops are NB201's own modules (``operations.py``), so networks built from a declaration hold the same
module tree and state-dict keys as ``NB201Network``. The DARTS ops (Liu et al. 2019, the evaluation network's
``OPS`` of quark0/darts ``cnn/operations.py``) are ``none``, ``skip_connect`` (identity; ``FactorizedReduce`` at
stride 2), ``avg_pool_3x3`` (``count_include_pad=False``), ``max_pool_3x3``, ``sep_conv_3x3/5x5`` and
``dil_conv_3x3/5x5``; as in DARTS' evaluation network the pools carry no BatchNorm (DARTS' search supernet appends
a non-affine one) and every BatchNorm is affine. ``none``, ``skip_connect`` and ``avg_pool_3x3`` are shared with
NB201: at stride 1 they are NB201's modules, the stride-2 forms are DARTS'. The registry is the only global state
of the language.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.models.operations import AvgPool3x3, ReLUConvBN, Zero

OpFactory = Callable[[int, int], nn.Module]  # (channels, stride) -> module; a module class or a function
OP_REGISTRY: dict[str, OpFactory] = {}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Decorator: make ``cls`` (a module class, or a function ``(channels, stride) -> module``) the op ``name`` of the
    space language (a second class of one name is refused)."""

    def decorate(cls: OpFactory) -> OpFactory:
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


class SkipConnect(nn.Identity):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("skip_connect", stride)
        super().__init__()


@register_op("skip_connect")
def skip_connect(channels: int, stride: int = 1) -> nn.Module:
    """NB201's and DARTS' identity; at stride 2 DARTS' ``FactorizedReduce(C, C)``."""
    _check_stride("skip_connect", stride)
    return SkipConnect(channels) if stride == 1 else FactorizedReduce(channels, channels)


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


class AvgPool3x3Op(AvgPool3x3):
    def __init__(self, channels: int, stride: int = 1) -> None:
        _stride_one("avg_pool_3x3", stride)
        super().__init__()


@register_op("avg_pool_3x3")
def avg_pool_3x3(channels: int, stride: int = 1) -> nn.Module:
    """The mean of the 3x3 neighbourhood inside the image (``count_include_pad=False``, NB201 and DARTS); at
    stride 1 NB201's module (a faster CPU path), at stride 2 ``nn.AvgPool2d(3, 2, 1, count_include_pad=False)``."""
    _check_stride("avg_pool_3x3", stride)
    if stride == 1:
        return AvgPool3x3Op(channels)
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


# -- DARTS' ops (quark0/darts cnn/operations.py, the evaluation network's: affine BatchNorms), C -> C -------------
def _check_stride(op: str, stride: int) -> None:
    if stride not in (1, 2):
        raise UserError(f"op {op} has stride 1 or 2, got {stride!r}")


class FactorizedReduce(nn.Module):
    """DARTS' stride-2 reduction without pooling: ReLU, then two 1x1 stride-2 convolutions to ``c_out // 2``
    channels each, the second on the input shifted by one pixel, concatenated, BatchNorm. (On odd sizes, where
    DARTS' shapes would not match, the shifted input is padded by one pixel at the bottom and right.)"""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise UserError(f"FactorizedReduce (DARTS' skip_connect at stride 2, its reduction preprocessing) needs "
                            f"an even number of channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if x.shape[2] % 2 or x.shape[3] % 2:
            shifted = nn.functional.pad(shifted, (0, x.shape[3] % 2, 0, x.shape[2] % 2))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class SepConv(nn.Sequential):
    """DARTS' separable convolution, applied twice: (ReLU, depthwise KxK (stride), pointwise 1x1, BN), then
    (ReLU, depthwise KxK, pointwise 1x1, BN); no biases."""

    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int) -> None:
        c = channels
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, stride=stride, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, padding=0, bias=False),
            nn.BatchNorm2d(c, affine=True),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, stride=1, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, padding=0, bias=False),
            nn.BatchNorm2d(c, affine=True),
        )


class DilConv(nn.Sequential):
    """DARTS' dilated separable convolution: ReLU, depthwise KxK with dilation 2 (stride), pointwise 1x1, BN."""

    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int, dilation: int = 2) -> None:
        c = channels
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, padding=0, bias=False),
            nn.BatchNorm2d(c, affine=True),
        )


def _darts_op(name: str, make: Callable[[int, int], nn.Module], doc: str) -> None:
    def factory(channels: int, stride: int = 1) -> nn.Module:
        _check_stride(name, stride)
        return make(channels, stride)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    register_op(name)(factory)


_darts_op("max_pool_3x3", lambda c, s: nn.MaxPool2d(3, stride=s, padding=1), "nn.MaxPool2d(3, stride, padding=1)")
_darts_op("sep_conv_3x3", lambda c, s: SepConv(c, 3, s, 1), "SepConv(C, 3, stride, padding 1)")
_darts_op("sep_conv_5x5", lambda c, s: SepConv(c, 5, s, 2), "SepConv(C, 5, stride, padding 2)")
_darts_op("dil_conv_3x3", lambda c, s: DilConv(c, 3, s, 2), "DilConv(C, 3, stride, padding 2, dilation 2)")
_darts_op("dil_conv_5x5", lambda c, s: DilConv(c, 5, s, 4), "DilConv(C, 5, stride, padding 4, dilation 2)")
