"""Regularized (aging) evolution, Real et al. 2019: tournament selection, mutation, the oldest member dies."""

from __future__ import annotations

import collections
import copy
from collections.abc import Mapping

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import allowed, finite_choices, mutate, sample

TOURNAMENTS = ("without_replacement", "with_replacement")


class RegularizedEvolution(Optimizer):
    """The first ``population_size`` trials are random; after that each trial mutates the best of
    ``sample_size`` members drawn at random from the population, and the child replaces the oldest member.
    NB201's setting: population 10, sample size 3.

    ``tournament``: draw the sample without replacement (default) or with replacement (NB201's code draws
    ``random.choice(population)`` ``sample_size`` times). ``mutation_weights``: None mutates a uniformly chosen
    hyperparameter to another value (the one-exchange neighbourhood); a mapping {hyperparameter: weight} chooses
    the hyperparameter with those probabilities, then another of its values uniformly. NB201's mutation picks a
    node, then one of its input edges, i.e. edge weights 1/3 (node 1), 1/6 (node 2), 1/9 (node 3): see
    conf/optimizer/rea_nb201.yaml."""

    name = "rea"

    def __init__(self, *args, population_size: int = 10, sample_size: int = 3,
                 tournament: str = "without_replacement", mutation_weights: Mapping[str, float] | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if tournament not in TOURNAMENTS:
            raise UserError(f"unknown optimizer.tournament {tournament!r}; valid: {', '.join(TOURNAMENTS)}")
        self.tournament = tournament
        self._weights = None if mutation_weights is None else self._check_weights(dict(mutation_weights))
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
        replace = self.tournament == "with_replacement"
        picks = self._rng.choice(len(self._population), size=self.sample_size, replace=replace)
        parent = min((self._population[i] for i in sorted(picks)), key=lambda member: member[1])[0]
        return Trial(config=mutate(parent, self._rng) if self._weights is None else self._weighted_mutation(parent))

    def _check_weights(self, weights: dict[str, float]) -> tuple[list[str], np.ndarray]:
        names = list(self.configspace.keys())
        unknown = sorted(set(weights) - set(names))
        if unknown or not weights:
            raise UserError(f"optimizer.mutation_weights names {', '.join(unknown) or 'nothing'}; the space's "
                            f"hyperparameters are {', '.join(names)}")
        for name in weights:
            if finite_choices(self.configspace[name]) is None:
                raise UserError(f"optimizer.mutation_weights needs categorical or ordinal hyperparameters; {name!r} "
                                f"is {type(self.configspace[name]).__name__}")
        values = np.array([float(weights[name]) for name in weights])
        if not np.all(values >= 0) or not values.sum() > 0:
            raise UserError(f"optimizer.mutation_weights must be >= 0 with a positive sum, got {weights}")
        return list(weights), values / values.sum()

    def _weighted_mutation(self, parent: Configuration) -> Configuration:
        """One hyperparameter drawn by ``mutation_weights`` changed to another of its values, uniformly (a
        forbidden result is drawn again)."""
        names, probabilities = self._weights  # type: ignore[misc]
        for _ in range(1000):
            name = names[int(self._rng.choice(len(names), p=probabilities))]
            hp = self.configspace[name]
            options = [v for v in finite_choices(hp) if v != parent[name]]
            child = Configuration(self.configspace, values={**dict(parent), name: options[int(self._rng.integers(
                len(options)))]})
            if allowed(child):
                return child
        raise RuntimeError("REA drew 1000 forbidden mutations in a row")

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self._population.append((trial.config, loss))  # a full deque drops its oldest member
        self._told += 1
