"""The base of every one-shot optimizer: it owns the supernet and its weight training (SGD, cosine schedule,
gradient clipping, ScheduledDropPath); subclasses add the architecture (alphas, a controller, sampling) and say
which cell the supernet currently stands for. ``search`` runs the loop in ``nas_exp.one_shot.loop``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_exp.errors import UserError
from nas_exp.one_shot.batches import Batch, SearchBatches
from nas_exp.one_shot.drop_path import scheduled_drop_prob
from nas_exp.one_shot.loop import run_search_loop
from nas_exp.one_shot.records import Cell, EpochRecord, Scored, SearchOutcome
from nas_exp.one_shot.scoring import oneshot_accuracy
from nas_exp.one_shot.selection import Retrain
from nas_exp.one_shot.settings import OneShotSettings
from nas_exp.one_shot.supernet import SuperNet, build_supernet
from nas_exp.search_spaces.supernet_layout import SupernetLayout


class OneShotOptimizer(ABC):
    """``layout``: the searched space's ``supernet_layout()`` (the supernet, the architecture's shape, how cells
    are sampled and discretized); ``seed`` fixes the supernet's initialization, the architecture's and every
    sampling decision; ``settings`` are ``OneShotSettings`` fields (flat, as in the config)."""

    name = "one_shot"
    ranks_candidates = False  # the final cell is chosen among ranked candidates (RSWS, ENAS, SPOS)

    def __init__(self, seed: int = 0, layout: SupernetLayout | None = None, **settings: object) -> None:
        if not isinstance(layout, SupernetLayout):
            raise UserError(f"{self.name} needs the searched space's supernet layout (layout=space.supernet_layout()), "
                            f"got {layout!r}")
        self.layout = layout
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UserError(f"seed must be a non-negative int, got {seed!r}")
        self.settings = OneShotSettings.from_mapping(settings)
        self.seed = seed
        self.rng = np.random.default_rng([seed, 7])  # architecture-level randomness (paths, noise, candidates)
        self.net: SuperNet | None = None
        self.candidates: list[Scored] = []

    # -- set-up ----------------------------------------------------------------------------------------------
    def setup(self, num_classes: int, in_channels: int, device: torch.device) -> None:
        """Build the supernet and the architecture (initialized from ``seed``, the global RNG left alone)."""
        s = self.settings
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = build_supernet(self.layout, s.C, s.N, num_classes, in_channels).to(self.device)
            self.setup_architecture(self.device)
        self.w_optimizer = torch.optim.SGD(self.net.parameters(), lr=s.learning_rate, momentum=s.momentum,
                                           weight_decay=s.weight_decay, nesterov=s.nesterov)
        # cosine from learning_rate to min_learning_rate over the search, or over lr_period epochs and back up
        # again (torch's CosineAnnealingLR continues the cosine past T_max, as xautodl's scheduler NB201's ENAS used)
        self.w_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_optimizer,
                                                                      T_max=s.lr_period or s.epochs,
                                                                      eta_min=s.min_learning_rate)
        # columns an edge does not offer: -inf before every softmax (none where every edge offers every op)
        self.alpha_offset = None if self.layout.full else torch.where(
            torch.from_numpy(self.layout.mask), 0.0, float("-inf")).to(self.device)
        self.mask_generator = torch.Generator(device=self.device)
        self.mask_generator.manual_seed(self.seed)

    @abstractmethod
    def setup_architecture(self, device: torch.device) -> None:
        """Create the architecture's parameters and optimizer (called under the seeded RNG)."""

    # -- one epoch -------------------------------------------------------------------------------------------
    def begin_epoch(self, epoch: int) -> None:
        s = self.settings
        self.require_net().set_drop_path(
            scheduled_drop_prob(s.drop_path_prob, epoch, s.epochs, s.drop_path_schedule), self.mask_generator)

    @abstractmethod
    def train_epoch(self, batches: SearchBatches, epoch: int) -> float:
        """One epoch of weight (and architecture) steps; the mean weight-step loss."""

    def end_epoch(self) -> None:
        self.w_scheduler.step()

    @abstractmethod
    def current_arch(self, batches: SearchBatches) -> Cell:
        """The cell the search stands for now."""

    def after_epoch(self, batches: SearchBatches, epoch: int, arch: Cell) -> tuple[float | None, str | None]:
        """(Hessian eigenvalue or None, stop reason or None) after an epoch; no early stopping by default."""
        return None, None

    def finalize(self, batches: SearchBatches, retrain: Retrain | None) -> Cell:
        """The final cell, once the search ends (methods that rank candidates select here)."""
        return self.current_arch(batches)

    def architecture_parameters(self) -> list[torch.Tensor]:
        """What the architecture search learns (alphas, controller weights); empty for pure sampling."""
        return []

    # -- shared steps ----------------------------------------------------------------------------------------
    def require_net(self) -> SuperNet:
        if self.net is None:
            raise RuntimeError(f"{self.name}: call setup() (or search()) before training")
        return self.net

    @property
    def learning_rate(self) -> float:
        return float(self.w_optimizer.param_groups[0]["lr"])

    def weight_step(self, batch: Batch, weights: torch.Tensor | None = None,
                    path: Sequence[int] | None = None) -> torch.Tensor:
        """One SGD step of the supernet's weights under the given architecture; the batch loss (detached)."""
        net = self.require_net()
        net.train()
        images, labels = batch
        loss = F.cross_entropy(net(images, weights=weights, path=path), labels)
        self.w_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.settings.grad_clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), self.settings.grad_clip)
        self.w_optimizer.step()
        return loss.detach()

    def masked(self, alphas: torch.Tensor) -> torch.Tensor:
        """``alphas`` with the ops an edge does not offer at -inf (``alphas`` itself where every edge offers all)."""
        return alphas if self.alpha_offset is None else alphas + self.alpha_offset

    def arch_weights(self, alphas: torch.Tensor) -> torch.Tensor:
        """softmax over each edge's offered ops."""
        return torch.softmax(self.masked(alphas), dim=-1)

    def discretize(self, alphas: torch.Tensor) -> Cell:
        """The cell ``alphas`` stand for, by the layout's rule (argmax per edge; DARTS' rule for its cells)."""
        return self.layout.discretize(alphas.detach().cpu().numpy())

    def score(self, arch: Cell, valid: list[Batch], batches: SearchBatches) -> float:
        """One-shot validation accuracy (%) of ``arch`` on ``valid`` (``settings.bn_mode``)."""
        s = self.settings
        recalibration = batches.recalibration(s.recalibration_batches) if s.bn_mode == "recalibrate" else []
        return oneshot_accuracy(self.require_net(), self.layout.path(arch), valid, s.bn_mode, recalibration)

    def scorer(self, batches: SearchBatches, n_batches: int | None) -> Callable[[Cell], float]:
        valid = batches.eval_valid(n_batches)
        return lambda arch: self.score(arch, valid, batches)

    # -- the search ------------------------------------------------------------------------------------------
    def search(self, batches: SearchBatches, on_epoch: Callable[[EpochRecord], None] | None = None,
               retrain: Retrain | None = None, clock: Callable[[], float] = time.perf_counter) -> SearchOutcome:
        """Train the supernet and search for ``settings.epochs`` epochs (or until an early stop)."""
        return run_search_loop(self, batches, on_epoch, retrain, clock)


def mean_loss(losses: list[torch.Tensor]) -> float:
    """Mean of per-step loss tensors, synchronizing with the device once."""
    return float(torch.stack(losses).mean().item()) if losses else float("nan")
