"""GDAS (Dong & Yang, CVPR 2019): differentiable sampling of one path per edge.

Each step samples straight-through Gumbel-softmax hard one-hot weights (``sampling.gumbel_softmax_hard``), so the
forward pass computes only the sampled op of every edge (one path in memory) while the gradient reaches all
alphas. Weight step on a train batch, then an architecture step (Adam, as DARTS) on a valid batch, each with its
own sample. The temperature falls linearly from ``tau_max`` (10) to ``tau_min`` (0.1) over the epochs (NB201's).
The cell is the argmax of the alphas.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError
from nas_exp.one_shot.base import OneShotOptimizer, mean_loss
from nas_exp.one_shot.batches import Batch, SearchBatches
from nas_exp.one_shot.records import Cell
from nas_exp.one_shot.sampling import gumbel_noise, gumbel_softmax_hard, linear_temperature


class GDAS(OneShotOptimizer):
    name = "gdas"

    def __init__(self, *, tau_max: float = 10.0, tau_min: float = 0.1, arch_learning_rate: float = 3e-4,
                 arch_weight_decay: float = 1e-3, arch_betas: tuple[float, float] = (0.5, 0.999),
                 **settings: object) -> None:
        super().__init__(**settings)
        if not 0 < tau_min <= tau_max:
            raise UserError(f"optimizer.tau_min/tau_max need 0 < tau_min <= tau_max, got {tau_min!r}/{tau_max!r}")
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)
        self.arch_learning_rate, self.arch_weight_decay = arch_learning_rate, arch_weight_decay
        self.arch_betas = tuple(arch_betas)
        self.tau = self.tau_max

    def setup_architecture(self, device: torch.device) -> None:
        self.alphas = nn.Parameter((1e-3 * torch.randn(self.layout.shape)).to(device))
        self.a_optimizer = torch.optim.Adam([self.alphas], lr=self.arch_learning_rate, betas=self.arch_betas,
                                            weight_decay=self.arch_weight_decay)

    def architecture_parameters(self) -> list[torch.Tensor]:
        return [self.alphas]

    def sample(self) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Hard one-hot weights (with the Gumbel-softmax gradient) and the sampled op of every edge."""
        return gumbel_softmax_hard(self.masked(self.alphas), self.tau, gumbel_noise(self.layout.shape, self.rng))

    def arch_step(self, valid: Batch) -> None:
        net = self.require_net()
        net.train()
        weights, path = self.sample()
        images, labels = valid
        loss = F.cross_entropy(net(images, weights=weights, path=path), labels)
        self.a_optimizer.zero_grad(set_to_none=True)
        self.alphas.grad = torch.autograd.grad(loss, [self.alphas])[0]
        self.a_optimizer.step()

    def train_epoch(self, batches: SearchBatches, epoch: int) -> float:
        self.tau = linear_temperature(epoch, self.settings.epochs, self.tau_max, self.tau_min)
        valid = batches.valid_stream()
        losses = []
        for train in batches.train_epoch():
            weights, path = self.sample()
            losses.append(self.weight_step(train, weights=weights.detach(), path=path))
            self.arch_step(next(valid))
        return mean_loss(losses)

    def current_arch(self, batches: SearchBatches) -> Cell:
        return self.discretize(self.alphas)
