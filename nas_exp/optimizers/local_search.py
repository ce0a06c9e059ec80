"""Local search with restarts (White et al. 2021 showed it is strong on NB201): hill-climb over the
one-exchange neighbourhood, moving on the first improving neighbour or after scanning all of them to the best
one; at a local optimum restart from a random configuration."""

from __future__ import annotations

import copy

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import neighbors, sample

STRATEGIES = ("first", "best")


class LocalSearch(Optimizer):
    name = "local_search"

    def __init__(self, *args, improvement: str = "best", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if improvement not in STRATEGIES:
            raise UserError(f"unknown optimizer.improvement {improvement!r}; valid: {', '.join(STRATEGIES)}")
        self.improvement = improvement
        self._space = copy.deepcopy(self.configspace)
        self._rng = np.random.default_rng(self.seed)
        self._losses: dict[Configuration, float] = {}  # everything evaluated in this run
        self._current: tuple[Configuration, float] | None = None  # the climb's position
        self._queue: list[Configuration] = []  # neighbours of the current position still to try
        self._best_neighbor: tuple[Configuration, float] | None = None

    def ask(self) -> Trial:
        while True:
            if self._current is None:  # (re)start from a random configuration, unseen if one can be found
                for _ in range(100):
                    config = sample(self._space, self._rng)
                    if config not in self._losses:
                        break
                return Trial(config=config, handle="start")
            if not self._queue:
                self._finish_scan()
                continue
            config = self._queue.pop(0)
            if config not in self._losses:
                return Trial(config=config, handle="neighbor")
            self._consider(config, self._losses[config])  # known already: no need to evaluate it again

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self._losses.setdefault(trial.config, loss)
        if trial.handle == "start" or self._current is None:
            self._move_to(trial.config, loss)
        else:
            self._consider(trial.config, loss)

    # -- the climb -----------------------------------------------------------------------------------------
    def _move_to(self, config: Configuration, loss: float) -> None:
        self._current = (config, loss)
        self._queue = neighbors(config, self._rng)
        self._best_neighbor = None

    def _consider(self, config: Configuration, loss: float) -> None:
        assert self._current is not None
        if loss >= self._current[1]:
            return
        if self.improvement == "first":
            self._move_to(config, loss)
        elif self._best_neighbor is None or loss < self._best_neighbor[1]:
            self._best_neighbor = (config, loss)

    def _finish_scan(self) -> None:
        """Every neighbour tried: move to the best improving one, or restart at a local optimum."""
        if self._best_neighbor is not None:
            self._move_to(*self._best_neighbor)
        else:
            self._current, self._queue = None, []
