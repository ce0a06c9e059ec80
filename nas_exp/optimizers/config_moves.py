"""Moves on a ConfigSpace that black-box optimizers share: sample, mutate, neighbours. Generic (any space whose
hyperparameters ConfigSpace can sample and neighbour), so the optimizers know nothing of NB201."""

from __future__ import annotations

import numpy as np

from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.exceptions import ForbiddenValueError
from ConfigSpace.util import get_one_exchange_neighbourhood

from nas_exp.configspace_layout import finite_choices  # noqa: F401  (the optimizers' import of it)


def allowed(config: Configuration) -> bool:
    """Whether ``config`` respects its space's forbidden clauses (e.g. NAS-Bench-Graph's all-skip cell)."""
    try:
        config.check_valid_configuration()
    except ForbiddenValueError:
        return False
    return True


def seed_of(rng: np.random.Generator) -> int:
    """A 31-bit seed drawn from ``rng`` for ConfigSpace's own seeded routines."""
    return int(rng.integers(2**31 - 1))


def sample(configspace: ConfigurationSpace, rng: np.random.Generator) -> Configuration:
    """One configuration drawn from the space's prior (uniform for categoricals), driven by ``rng``."""
    configspace.seed(seed_of(rng))
    return configspace.sample_configuration()


def neighbors(config: Configuration, rng: np.random.Generator) -> list[Configuration]:
    """The one-exchange neighbourhood of ``config`` in a random order (every other op on every edge for NB201)."""
    return list(get_one_exchange_neighbourhood(config, seed=seed_of(rng)))


def mutate(config: Configuration, rng: np.random.Generator) -> Configuration:
    """One uniformly chosen neighbour: for a categorical space, one hyperparameter changed to another value."""
    candidates = neighbors(config, rng)
    return candidates[int(rng.integers(len(candidates)))]
