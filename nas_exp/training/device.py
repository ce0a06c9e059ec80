"""Which torch device trains, and the settings that follow from it (bf16 autocast, channels_last)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from nas_exp.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU. Asking for ``cuda`` without one is an error, not a silent CPU run."""
    if name not in DEVICE_CHOICES and not str(name).startswith("cuda:"):
        raise UserError(f"unknown device {name!r}; valid: {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but torch sees no CUDA GPU; use device=cpu or auto")
    return torch.device(name)


def uses_cuda(device: torch.device) -> bool:
    return device.type == "cuda"


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``; fp32 (no autocast) on CPU."""
    if enabled and uses_cuda(device):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA (faster convolutions with cuDNN), the default layout on CPU."""
    return torch.channels_last if uses_cuda(device) else torch.contiguous_format


@contextlib.contextmanager
def cudnn_autotune(device: torch.device) -> Iterator[None]:
    """Let cuDNN pick the fastest convolution algorithms for the fixed shapes of a training run (scoped, CUDA only)."""
    if not uses_cuda(device):
        yield
        return
    with torch.backends.cudnn.flags(enabled=True, benchmark=True, deterministic=False, allow_tf32=True):
        yield
