"""The building blocks of NB201's inferred network (D-X-Y/AutoDL-Projects ``xautodl/models/cell_operations.py``).

Only what the NB201 cell space and its ``TinyNetwork`` skeleton use, with NB201's exact layer order and bias
settings (convolutions followed by an affine BatchNorm have no bias), so parameter counts match the benchmark.
Inside a cell every op maps C channels to C channels at stride 1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d: NB201's ``nor_conv_KxK``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """NB201's ``none``: the edge carries nothing. Outputs zeros of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class AvgPool3x3(nn.Module):
    """NB201's ``avg_pool_3x3`` inside a cell (C_in == C_out, so no 1x1 preprocessing): the mean of each pixel's
    3x3 neighbourhood inside the image, i.e. ``nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)``.

    On the CPU it is computed as a depthwise 3x3 convolution with a kernel of ones (the zero-padded neighbourhood
    sum) times a precomputed map of 1 / (neighbours inside the image): equal to AvgPool2d up to float rounding
    (~1e-7 relative), forward and backward, and 4-6x faster there (torch's CPU avg_pool2d with
    ``count_include_pad=False`` was ~45% of a DARTS supernet weight step; ``benchmarks/bench_supernet_step.py``).
    Other devices use ``F.avg_pool2d`` itself. No parameters or buffers: state dicts are unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaled(x, None)

    def scaled(self, x: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
        """``scale * self(x)`` (``scale``: a 0-dim tensor, or None for 1), with the scale folded into the small
        1 / count map on the CPU: one full-size multiplication instead of two (the supernet's weighted edge)."""
        if x.device.type != "cpu" or x.dim() != 4:
            out = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
            return out if scale is None else scale * out
        channels, height, width = x.shape[1], x.shape[2], x.shape[3]
        kernel, inv_count = _box_filter(channels, height, width, x.dtype)
        return F.conv2d(x, kernel, padding=1, groups=channels) * (inv_count if scale is None else scale * inv_count)

    def extra_repr(self) -> str:
        return "kernel_size=3, stride=1, padding=1, count_include_pad=False"


def box_sum_and_inv_count(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the zero-padded 3x3 neighbourhood sum of ``x``, 1 / in-image neighbour count (1, 1, H, W)) on the CPU: their
    product is ``AvgPool3x3()(x)``; the supernet scales one sum by several edges' weights. Other devices:
    (``AvgPool3x3()(x)``, ones)."""
    if x.device.type != "cpu" or x.dim() != 4:  # as AvgPool3x3: F.avg_pool2d off the CPU, times a count map of ones
        return (F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False),
                torch.ones((1,) * x.dim(), dtype=x.dtype, device=x.device))
    kernel, inv_count = _box_filter(x.shape[1], x.shape[2], x.shape[3], x.dtype)
    return F.conv2d(x, kernel, padding=1, groups=x.shape[1]), inv_count


def _box_filter(channels: int, height: int, width: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(depthwise ones kernel (channels, 1, 3, 3), 1 / in-image neighbour count (1, 1, height, width)) on the CPU;
    cached per shape in eager mode (under torch.compile they are built in the graph, as constants)."""
    if torch.compiler.is_compiling():
        return _make_box_filter(channels, height, width, dtype)
    return _cached_box_filter(channels, height, width, dtype)


def _make_box_filter(channels: int, height: int, width: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    kernel = torch.ones(channels, 1, 3, 3, dtype=dtype)
    count = F.conv2d(torch.ones(1, 1, height, width, dtype=torch.float64),
                     torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=1)  # exact small integers
    return kernel, (1.0 / count).to(dtype)


_cached_box_filter = lru_cache(maxsize=64)(_make_box_filter)


def avg_pool_3x3() -> nn.Module:
    """NB201's ``avg_pool_3x3`` inside a cell (C_in == C_out, so no 1x1 preprocessing)."""
    return AvgPool3x3()


# Every op of the cell space, as a constructor of a C -> C, stride-1 module.
OP_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, padding=0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, padding=1),
    "avg_pool_3x3": lambda c: avg_pool_3x3(),
}


def build_op(name: str, channels: int) -> nn.Module:
    """The module of op ``name`` on a cell with ``channels`` channels."""
    if name not in OP_BUILDERS:
        raise UserError(f"unknown NB201 op {name!r}; valid ops: {', '.join(OP_BUILDERS)}")
    return OP_BUILDERS[name](channels)


class ResNetBasicBlock(nn.Module):
    """The reduction block between stages: two ReLU-Conv3x3-BN (the first with stride 2) plus a shortcut
    AvgPool2d(2, 2) -> Conv1x1 (no bias, no BN), as in NB201's ``ResNetBasicblock(C_in, C_out, 2)``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2, padding=1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, stride=1, padding=1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))
