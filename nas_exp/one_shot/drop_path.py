"""DropPath (FractalNet / DARTS): zero a path's output for a whole sample with probability p in training, scale the
kept ones by 1/(1-p); identity in eval mode. ScheduledDropPath ramps p over the epochs."""

from __future__ import annotations

import torch
from torch import nn

from nas_exp.errors import UserError
from nas_exp.one_shot.settings import DROP_PATH_SCHEDULES


class DropPath(nn.Module):
    """``p``: drop probability, set by the search (``SuperNet.set_drop_path``). ``generator``: where the
    masks are drawn (None: torch's default generator); it must live on the device of the inputs."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = check_prob(p)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        mask.bernoulli_(keep, generator=self.generator)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def check_prob(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise UserError(f"drop-path probability must be in [0, 1), got {p!r}")
    return float(p)


def scheduled_drop_prob(max_prob: float, epoch: int, epochs: int, schedule: str = "linear") -> float:
    """ScheduledDropPath: ``max_prob * epoch / epochs`` for the 0-based ``epoch`` (DARTS' ramp), or ``max_prob``
    throughout (``constant``)."""
    if schedule not in DROP_PATH_SCHEDULES:
        raise UserError(f"unknown drop-path schedule {schedule!r}; valid: {', '.join(DROP_PATH_SCHEDULES)}")
    if not 0 <= epoch < epochs:
        raise UserError(f"epoch {epoch!r} is out of range 0..{epochs - 1}")
    check_prob(max_prob)
    return max_prob if schedule == "constant" else max_prob * epoch / epochs
