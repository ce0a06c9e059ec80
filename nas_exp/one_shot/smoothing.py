"""Random smoothing of the architecture (SmoothDARTS' SDARTS-RS, Chen & Hsieh, ICML 2020): the weight step trains
the supernet under architecture weights perturbed by uniform noise, which flattens the validation loss landscape
in the architecture. As SDARTS' code, the noise is added to the softmax-normalized weights."""

from __future__ import annotations

import numpy as np
import torch

from nas_exp.errors import UserError


def uniform_noise(shape: tuple[int, ...], epsilon: float, rng: np.random.Generator) -> torch.Tensor:
    """Noise uniform in [-epsilon, epsilon]."""
    if not epsilon >= 0:
        raise UserError(f"smoothing epsilon must be >= 0, got {epsilon!r}")
    return torch.from_numpy(rng.uniform(-epsilon, epsilon, size=shape)).float()


def smoothed_weights(alphas: torch.Tensor, epsilon: float, rng: np.random.Generator) -> torch.Tensor:
    """softmax(alphas) + U(-epsilon, epsilon) per entry, detached (the weight step does not train alphas)."""
    weights = torch.softmax(alphas.detach(), dim=-1)
    if epsilon == 0:
        return weights
    return weights + uniform_noise(tuple(weights.shape), epsilon, rng).to(weights.device)
