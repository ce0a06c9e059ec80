"""DARTS (Liu et al., ICLR 2019) on a cell space's supernet, first or second order, with two robustness aids.

Every step: an architecture step on a valid batch (Adam on the alphas: lr 3e-4, betas (0.5, 0.999), weight decay
1e-3, as DARTS and NB201), then a weight step on a train batch under softmax(alphas). First order takes the valid
loss' gradient at the current weights; second order (``order: 2``) differentiates through one unrolled weight
step with DARTS' finite-difference Hessian-vector product (``nas_exp.one_shot.unrolled``).

Robustness aids: ``smooth_epsilon`` > 0 trains the weights under randomly perturbed architecture weights
(SmoothDARTS' SDARTS-RS); ``hessian: track`` reports the dominant eigenvalue of the valid loss' Hessian w.r.t. the
alphas each epoch, ``hessian: stop`` also stops early when it grows too fast (RobustDARTS' DARTS-ES).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.one_shot.base import OneShotOptimizer, mean_loss
from nas_exp.one_shot.batches import Batch, SearchBatches
from nas_exp.one_shot.eigen_stop import EigenvalueStopper
from nas_exp.one_shot.hessian import dominant_eigenvalue
from nas_exp.one_shot.selection import Retrain
from nas_exp.one_shot.smoothing import smoothed_weights
from nas_exp.one_shot.unrolled import unrolled_alpha_grad
from nas_exp.one_shot.records import Cell

HESSIAN_MODES = (None, "track", "stop")


class DARTS(OneShotOptimizer):
    def __init__(self, *, order: int = 1, arch_learning_rate: float = 3e-4, arch_weight_decay: float = 1e-3,
                 arch_betas: tuple[float, float] = (0.5, 0.999), unrolled_r: float = 0.01,
                 smooth_epsilon: float = 0.0, hessian: str | None = None, hessian_every: int = 1,
                 hessian_window: int = 5, hessian_factor: float = 1 / 0.75, hessian_iterations: int = 20,
                 hessian_batches: int = 1, **settings: object) -> None:
        super().__init__(**settings)
        if order not in (1, 2):
            raise UserError(f"optimizer.order must be 1 (first-order DARTS) or 2 (second order), got {order!r}")
        if hessian not in HESSIAN_MODES:
            raise UserError(f"optimizer.hessian must be null, track or stop, got {hessian!r}")
        if not smooth_epsilon >= 0:
            raise UserError(f"optimizer.smooth_epsilon must be >= 0, got {smooth_epsilon!r}")
        for key, value in (("hessian_every", hessian_every), ("hessian_iterations", hessian_iterations),
                           ("hessian_batches", hessian_batches)):
            require_int(value, f"optimizer.{key}")
        self.order, self.name = order, "darts" if order == 1 else "darts2"
        self.arch_learning_rate, self.arch_weight_decay = arch_learning_rate, arch_weight_decay
        self.arch_betas = tuple(arch_betas)
        self.unrolled_r, self.smooth_epsilon = unrolled_r, smooth_epsilon
        self.hessian, self.hessian_every = hessian, hessian_every
        self.hessian_iterations, self.hessian_batches = hessian_iterations, hessian_batches
        self.stopper = EigenvalueStopper(hessian_window, hessian_factor) if hessian == "stop" else None

    def setup_architecture(self, device: torch.device) -> None:
        self.alphas = nn.Parameter((1e-3 * torch.randn(self.layout.shape)).to(device))
        self.a_optimizer = torch.optim.Adam([self.alphas], lr=self.arch_learning_rate, betas=self.arch_betas,
                                            weight_decay=self.arch_weight_decay)
        self.hessian_generator = torch.Generator().manual_seed(self.seed)

    def architecture_parameters(self) -> list[torch.Tensor]:
        return [self.alphas]

    # -- training --------------------------------------------------------------------------------------------
    def loss(self, batch: Batch, alphas: torch.Tensor) -> torch.Tensor:
        images, labels = batch
        return F.cross_entropy(self.require_net()(images, weights=self.arch_weights(alphas)), labels)

    def arch_step(self, train: Batch, valid: Batch) -> None:
        self.require_net().train()
        if self.order == 1:
            grad = torch.autograd.grad(self.loss(valid, self.alphas), [self.alphas])[0]
        else:
            buffers = [self.w_optimizer.state.get(p, {}).get("momentum_buffer") for p in self.net.parameters()]
            grad = unrolled_alpha_grad(self.loss, self.alphas, list(self.net.parameters()), train, valid,
                                       xi=self.learning_rate, weight_decay=self.settings.weight_decay,
                                       momentum=self.settings.momentum, momentum_buffers=buffers,
                                       r=self.unrolled_r)
        self.a_optimizer.zero_grad(set_to_none=True)
        self.alphas.grad = grad.detach()
        self.a_optimizer.step()

    def train_epoch(self, batches: SearchBatches, epoch: int) -> float:
        valid = batches.valid_stream()
        losses = []
        for train in batches.train_epoch():
            self.arch_step(train, next(valid))
            weights = smoothed_weights(self.masked(self.alphas), self.smooth_epsilon, self.rng)
            losses.append(self.weight_step(train, weights=weights))
        return mean_loss(losses)

    # -- the cell and early stopping -------------------------------------------------------------------------
    def current_arch(self, batches: SearchBatches) -> Cell:
        return self.discretize(self.alphas)

    def eigenvalue(self, batches: SearchBatches) -> float:
        """Dominant eigenvalue of the Hessian of the valid loss (first ``hessian_batches`` scoring batches,
        train-mode BatchNorm as in the architecture step) w.r.t. the alphas."""
        valid = batches.eval_valid(self.hessian_batches)
        net = self.require_net()
        net.train()
        drop = [(op.drop_path, op.drop_path.p) for op in net.mixed_ops()]
        for module, _ in drop:
            module.p = 0.0  # a deterministic loss
        try:
            return dominant_eigenvalue(lambda: sum(self.loss(b, self.alphas) for b in valid) / len(valid),
                                       [self.alphas], self.hessian_iterations, generator=self.hessian_generator)
        finally:
            for module, p in drop:
                module.p = p

    def after_epoch(self, batches: SearchBatches, epoch: int, arch: Cell) -> tuple[float | None, str | None]:
        if self.hessian is None or (epoch + 1) % self.hessian_every:
            return None, None
        value = self.eigenvalue(batches)
        stop = None if self.stopper is None else self.stopper.update(value, arch)
        return value, stop

    def finalize(self, batches: SearchBatches, retrain: Retrain | None) -> Cell:
        if self.stopper is not None and self.stopper.fallback is not None:
            return self.stopper.fallback
        return self.current_arch(batches)
