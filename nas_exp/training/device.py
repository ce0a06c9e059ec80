"""Which torch device trains, and the settings that follow from it (bf16 autocast on CUDA, channels_last)."""

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
    """channels_last: faster convolutions with cuDNN on CUDA and with oneDNN on the CPU (NB201 training step at
    C=16 N=5 batch 64 ~1.35x faster, the DARTS supernet's ~1.3x; ``benchmarks/bench_supernet_step.py``). Results equal
    the default layout's up to float rounding (another convolution kernel), not bit for bit."""
    del device  # the same on every device
    return torch.channels_last


@contextlib.contextmanager
def cudnn_autotune(device: torch.device) -> Iterator[None]:
    """Let cuDNN pick the fastest convolution algorithms for the fixed shapes of a training run (scoped, CUDA only)."""
    if not uses_cuda(device):
        yield
        return
    with torch.backends.cudnn.flags(enabled=True, benchmark=True, deterministic=False, allow_tf32=True):
        yield
