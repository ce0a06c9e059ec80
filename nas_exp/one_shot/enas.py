"""ENAS (Pham et al., ICML 2018) as NB201's ENAS, on any cell space: each epoch first trains the shared weights on paths
sampled from the controller, then trains the controller with REINFORCE: reward = one-shot accuracy (fraction) of a
sampled cell on a valid batch + ``entropy_weight`` * the policy's entropy, minus a moving-average baseline
(``baseline_decay``); gradients are averaged over ``controller_aggregate`` samples per Adam step (lr 1e-3, betas
(0, 0.999)). The cell after an epoch is the controller's greedy decoding; the final cell is the best of
``select_num`` cells sampled from the controller, by one-shot accuracy."""

from __future__ import annotations

import torch
from torch import nn

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.one_shot.base import OneShotOptimizer, mean_loss
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.controllers import build_controller
from nas_exp.one_shot.selection import Retrain, rank_cells, retrain_top
from nas_exp.one_shot.records import Cell


class ENAS(OneShotOptimizer):
    name = "enas"
    ranks_candidates = True

    def __init__(self, *, controller: str = "lstm", controller_hidden: int = 32, controller_layers: int = 2,
                 tanh_constant: float = 2.5, temperature: float = 5.0, controller_learning_rate: float = 1e-3,
                 controller_steps: int = 50, controller_aggregate: int = 20, controller_grad_clip: float = 5.0,
                 entropy_weight: float = 1e-4, baseline_decay: float = 0.99, select_num: int = 100,
                 **settings: object) -> None:
        super().__init__(**settings)
        for key, value in (("controller_steps", controller_steps), ("controller_aggregate", controller_aggregate),
                           ("select_num", select_num), ("controller_hidden", controller_hidden),
                           ("controller_layers", controller_layers)):
            require_int(value, f"optimizer.{key}")
        if not 0 <= baseline_decay < 1:
            raise UserError(f"optimizer.baseline_decay must be in [0, 1), got {baseline_decay!r}")
        self.controller_kind = controller
        build_controller(controller, self.layout.decision_sizes)  # fail on a bad kind now, not after the data loaded
        self.controller_args = (controller_hidden, controller_layers, tanh_constant, temperature)
        self.controller_learning_rate, self.controller_grad_clip = controller_learning_rate, controller_grad_clip
        self.controller_steps, self.controller_aggregate = controller_steps, controller_aggregate
        self.entropy_weight, self.baseline_decay, self.select_num = entropy_weight, baseline_decay, select_num
        self.baseline: float | None = None

    def setup_architecture(self, device: torch.device) -> None:
        # on the CPU: it is tiny
        self.controller = build_controller(self.controller_kind, self.layout.decision_sizes, *self.controller_args)
        self.c_optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.controller_learning_rate,
                                            betas=(0.0, 0.999), eps=1e-3)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.baseline = None

    def architecture_parameters(self) -> list[torch.Tensor]:
        return list(self.controller.parameters())

    def train_epoch(self, batches: SearchBatches, epoch: int) -> float:
        losses = []
        for train in batches.train_epoch():
            with torch.no_grad():
                path = self.layout.path_of_decisions(self.controller.sample(self.generator).decisions)
            losses.append(self.weight_step(train, path=path))
        self.train_controller(batches)
        return mean_loss(losses)

    def train_controller(self, batches: SearchBatches) -> None:
        valid = batches.valid_stream()
        self.controller.train()
        for _ in range(self.controller_steps):
            self.c_optimizer.zero_grad(set_to_none=True)
            for _ in range(self.controller_aggregate):
                decision = self.controller.sample(self.generator)
                accuracy = self.score(self.layout.cell(decision.decisions), [next(valid)], batches)
                reward = accuracy / 100.0 + self.entropy_weight * float(decision.entropy.detach())
                self.baseline = reward if self.baseline is None else (
                    self.baseline - (1 - self.baseline_decay) * (self.baseline - reward))
                loss = -decision.log_prob * (reward - self.baseline) / self.controller_aggregate
                loss.backward()
            nn.utils.clip_grad_norm_(self.controller.parameters(), self.controller_grad_clip)
            self.c_optimizer.step()

    def current_arch(self, batches: SearchBatches) -> Cell:
        return self.layout.cell(self.controller.greedy())

    def finalize(self, batches: SearchBatches, retrain: Retrain | None) -> Cell:
        with torch.no_grad():
            sampled = [self.layout.cell(self.controller.sample(self.generator).decisions)
                       for _ in range(self.select_num)]
        ranked = rank_cells(sampled, self.scorer(batches, self.settings.select_batches))
        self.candidates = retrain_top(ranked, self.settings.retrain_top_k, retrain)
        return self.candidates[0].arch
