"""The dominant eigenvalue of a loss' Hessian w.r.t. some parameters (RobustDARTS: of the validation loss w.r.t.
the architecture weights), by power iteration on Hessian-vector products from double backpropagation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from nas_exp.errors import UserError


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))  # type: ignore[return-value]


def _normalized(vector: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    norm = torch.sqrt(_dot(vector, vector))
    if not norm > 0:
        raise UserError("power iteration hit a zero vector: the Hessian is zero in these directions")
    return [v / norm for v in vector]


def dominant_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], iterations: int = 20,
                        tol: float = 1e-4, generator: torch.Generator | None = None) -> float:
    """The eigenvalue of largest magnitude of d^2 loss / d params^2 (signed), by at most ``iterations`` steps of
    power iteration (stopping once it changes by less than ``tol`` relative). ``loss_fn`` is evaluated once; the
    gradient graph is reused for every Hessian-vector product. Only the Hessian's action is computed, never the
    matrix; ``.grad`` of the parameters is left alone."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise UserError(f"power iteration needs iterations >= 1, got {iterations!r}")
    params = list(params)
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    vector = _normalized([torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params])
    eigenvalue = 0.0
    for step in range(iterations):
        product = torch.autograd.grad(grads, params, grad_outputs=vector, retain_graph=True)
        estimate = float(_dot(vector, product))  # Rayleigh quotient of the unit vector
        if step > 0 and abs(estimate - eigenvalue) <= tol * max(abs(estimate), 1e-12):
            return estimate
        eigenvalue = estimate
        vector = _normalized([p.detach() for p in product])
    return eigenvalue
