"""Second-order DARTS: the architecture gradient through one unrolled weight step (Liu et al., ICLR 2019, eq. 7-8).

    grad_a L_val(w', a) - xi * (grad_a L_train(w+, a) - grad_a L_train(w-, a)) / (2 eps),
    w' = w - xi * (momentum * buf + grad_w L_train(w, a) + wd * w),   w+- = w +- eps * grad_w' L_val(w', a),
    eps = r / ||grad_w' L_val(w', a)||

The supernet's weights are restored before returning; their ``.grad`` is not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nas_exp.one_shot.batches import Batch

LossFn = Callable[[Batch, torch.Tensor], torch.Tensor]  # (batch, architecture logits) -> scalar loss


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    found = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, found)]


@torch.no_grad()
def _add_(params: Sequence[torch.Tensor], values: Sequence[torch.Tensor], scale: float) -> None:
    for p, v in zip(params, values):
        p.add_(v, alpha=scale)


@torch.no_grad()
def _copy_(params: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    for p, v in zip(params, values):
        p.copy_(v)


def unrolled_alpha_grad(loss_fn: LossFn, alphas: torch.Tensor, params: Sequence[nn.Parameter], train: Batch,
                        valid: Batch, xi: float, weight_decay: float = 0.0, momentum: float = 0.0,
                        momentum_buffers: Sequence[torch.Tensor | None] | None = None,
                        r: float = 0.01) -> torch.Tensor:
    """The unrolled architecture gradient (a tensor shaped like ``alphas``); ``xi`` is the virtual step size
    (DARTS: the weights' current learning rate), ``momentum_buffers`` the weight optimizer's, per parameter."""
    params = list(params)
    backup = [p.detach().clone() for p in params]
    try:
        grads = _grads(loss_fn(train, alphas.detach()), params)
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                step = g + weight_decay * p
                buffer = None if momentum_buffers is None else momentum_buffers[i]
                if buffer is not None and momentum:
                    step = step + momentum * buffer
                p.sub_(xi * step)
        valid_grads = _grads(loss_fn(valid, alphas), [alphas, *params])
        d_alpha, d_weights = valid_grads[0], valid_grads[1:]
        norm = torch.sqrt(sum((g * g).sum() for g in d_weights))
        if not norm > 0:
            return d_alpha
        eps = r / float(norm)
        _copy_(params, backup)
        _add_(params, d_weights, eps)
        grad_plus = _grads(loss_fn(train, alphas), [alphas])[0]
        _add_(params, d_weights, -2 * eps)
        grad_minus = _grads(loss_fn(train, alphas), [alphas])[0]
        return d_alpha - xi * (grad_plus - grad_minus) / (2 * eps)
    finally:
        _copy_(params, backup)
