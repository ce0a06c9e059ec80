"""Uniform single-path training of the supernet (RSWS, SPOS): every weight step trains one uniformly sampled path.

With no architecture parameters, the cell after an epoch is the best of ``epoch_candidates`` fresh random cells plus
the previous best, by one-shot accuracy on the first ``select_batches`` valid batches.
"""

from __future__ import annotations

import torch

from nas_exp.checks import require_int
from nas_exp.one_shot.base import OneShotOptimizer, mean_loss
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.selection import rank_cells
from nas_exp.one_shot.records import Cell


class UniformSampling(OneShotOptimizer):
    def __init__(self, *, epoch_candidates: int = 20, **settings: object) -> None:
        super().__init__(**settings)
        self.epoch_candidates = require_int(epoch_candidates, "optimizer.epoch_candidates")
        self.best: Cell | None = None

    def setup_architecture(self, device: torch.device) -> None:
        self.best = None

    def train_epoch(self, batches: SearchBatches, epoch: int) -> float:
        return mean_loss([self.weight_step(train, path=self.layout.sample_path(self.rng))
                          for train in batches.train_epoch()])

    def with_best(self, cells: list[Cell]) -> list[Cell]:
        return cells if self.best is None else [self.best, *cells]

    def current_arch(self, batches: SearchBatches) -> Cell:
        cells = self.with_best(self.layout.distinct_cells(self.epoch_candidates, self.rng))
        self.best = rank_cells(cells, self.scorer(batches, self.settings.select_batches))[0].arch
        return self.best
