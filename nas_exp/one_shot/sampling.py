"""Gumbel-softmax sampling (GDAS) and its temperature. Uniform paths, distinct cells and discretization are the
layout's (``SupernetLayout.sample_path``, ``distinct_cells``, ``discretize``)."""

from __future__ import annotations

import numpy as np
import torch

from nas_exp.errors import UserError


def gumbel_noise(shape: tuple[int, ...], rng: np.random.Generator) -> torch.Tensor:
    """Standard Gumbel samples -log(-log U), U uniform in (0, 1)."""
    uniform = rng.uniform(np.finfo(np.float32).tiny, 1.0, size=shape)
    return torch.from_numpy(-np.log(-np.log(uniform))).float()


def gumbel_softmax_hard(alphas: torch.Tensor, tau: float, noise: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """GDAS' straight-through Gumbel-softmax: per edge, ``probs = softmax((log_softmax(alphas) + noise) / tau)``,
    ``index = argmax(probs)``; the weights are one-hot in value with the gradient of ``probs``."""
    if not tau > 0:
        raise UserError(f"Gumbel-softmax temperature must be > 0, got {tau!r}")
    logits = (torch.log_softmax(alphas, dim=-1) + noise.to(alphas.device)) / tau
    probs = torch.softmax(logits, dim=-1)
    index = probs.detach().argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(probs).scatter_(-1, index, 1.0)
    hard = one_hot - probs.detach() + probs
    return hard, tuple(int(i) for i in index.squeeze(-1).tolist())


def linear_temperature(epoch: int, epochs: int, tau_max: float, tau_min: float) -> float:
    """GDAS' schedule: ``tau_max`` at the first epoch down to ``tau_min`` at the last, linearly."""
    if epochs <= 1:
        return float(tau_min)
    return tau_max - (tau_max - tau_min) * epoch / (epochs - 1)
