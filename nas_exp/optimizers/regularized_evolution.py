"""Regularized (aging) evolution, Real et al. 2019: tournament selection, mutation, the oldest member dies."""

from __future__ import annotations

import collections
import copy

import numpy as np

from nas_exp.errors import UserError
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import mutate, sample


class RegularizedEvolution(Optimizer):
    """The first ``population_size`` trials are random; after that each trial mutates the best of
    ``sample_size`` members drawn at random from the population, and the child replaces the oldest member.
    NB201's setting: population 10, sample size 3."""

    name = "rea"

    def __init__(self, *args, population_size: int = 10, sample_size: int = 3, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (isinstance(population_size, int) and population_size >= 1):
            raise UserError(f"optimizer.population_size must be a positive int, got {population_size!r}")
        if not (isinstance(sample_size, int) and 1 <= sample_size <= population_size):
            raise UserError(f"optimizer.sample_size must be an int in 1..population_size ({population_size}), "
                             f"got {sample_size!r}")
        self.population_size, self.sample_size = population_size, sample_size
        self._space = copy.deepcopy(self.configspace)
        self._rng = np.random.default_rng(self.seed)
        self._population: collections.deque = collections.deque(maxlen=population_size)  # (config, loss), aging
        self._told = 0

    def ask(self) -> Trial:
        if self._told < self.population_size:
            return Trial(config=sample(self._space, self._rng))
        picks = self._rng.choice(len(self._population), size=self.sample_size, replace=False)
        parent = min((self._population[i] for i in sorted(picks)), key=lambda member: member[1])[0]
        return Trial(config=mutate(parent, self._rng))

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self._population.append((trial.config, loss))  # a full deque drops its oldest member
        self._told += 1
