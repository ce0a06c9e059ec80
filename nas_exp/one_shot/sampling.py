"""Architecture sampling and discretization: uniform paths, Gumbel-softmax (GDAS), argmax cells, distinct cells."""

from __future__ import annotations

import numpy as np
import torch

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.search_spaces.nb201 import N_CELLS, N_EDGES, OPS, Arch


def uniform_path(rng: np.random.Generator) -> tuple[int, ...]:
    """One op index per edge, uniformly."""
    return tuple(int(i) for i in rng.integers(len(OPS), size=N_EDGES))


def argmax_arch(alphas: torch.Tensor) -> Arch:
    """The discretized cell: the op of largest weight on every edge (ties: the first in ``OPS`` order)."""
    if tuple(alphas.shape) != (N_EDGES, len(OPS)):
        raise UserError(f"architecture weights must have shape {(N_EDGES, len(OPS))}, got {tuple(alphas.shape)}")
    return Arch.from_op_indices([int(i) for i in alphas.detach().argmax(dim=1).tolist()])


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


def sample_distinct_cells(n: int, rng: np.random.Generator) -> list[Arch]:
    """``n`` different cells drawn uniformly without replacement (all of them if n >= 15625)."""
    require_int(n, "number of cells", low=0)
    codes = rng.choice(N_CELLS, size=min(n, N_CELLS), replace=False)
    return [Arch.from_code(int(c)) for c in codes]
