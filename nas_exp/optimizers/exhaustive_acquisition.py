"""Acquisition maximization by enumeration, for small finite ConfigSpaces (e.g. NB201's 15,625 cells).

SMAC's default maximizer (local search + sorted random samples) works on any space but, on a space of only
categoricals, often returns configurations it already evaluated and falls back to random samples. When the space
is small enough, scoring every not-yet-evaluated configuration in one vectorized model call is exact and cheap.
"""

from __future__ import annotations

import itertools

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from smac.acquisition.maximizer.abstract_acquisition_maximizer import AbstractAcquisitionMaximizer

from nas_exp.errors import UserError
from nas_exp.optimizers.config_moves import finite_choices

MAX_CONFIGS = 1_000_000


def _choices(configspace: ConfigurationSpace) -> tuple[list[str], list[tuple], str | None]:
    """Names and value lists of the hyperparameters, and why the space cannot be enumerated (None if it can)."""
    if configspace.conditions or configspace.forbidden_clauses:
        return [], [], "exhaustive acquisition needs a ConfigSpace without conditions or forbidden clauses"
    names, choices = [], []
    for hp in configspace.values():
        values = finite_choices(hp)
        if values is not None:
            choices.append(values)
        else:
            return [], [], (f"exhaustive acquisition needs categorical/ordinal hyperparameters; {hp.name!r} is "
                            f"{type(hp).__name__}: use acquisition=local_search (or auto)")
        names.append(hp.name)
    size = int(np.prod([len(c) for c in choices]))
    if size > MAX_CONFIGS:
        return [], [], (f"the space has {size:,} configurations, more than {MAX_CONFIGS:,} to enumerate: "
                        "use acquisition=local_search (or auto)")
    return names, choices, None


def enumeration_problem(configspace: ConfigurationSpace) -> str | None:
    """Why ``configspace`` cannot be enumerated (continuous hyperparameters, conditions, too many
    configurations), or None if it can."""
    return _choices(configspace)[2]


def enumerate_configs(configspace: ConfigurationSpace) -> list[Configuration]:
    """Every configuration of a finite space of categorical/ordinal hyperparameters without conditions."""
    names, choices, problem = _choices(configspace)
    if problem is not None:
        raise UserError(problem)
    return [Configuration(configspace, values=dict(zip(names, values))) for values in itertools.product(*choices)]


class ExhaustiveAcquisitionMaximizer(AbstractAcquisitionMaximizer):
    """Returns the ``n_points`` unevaluated configurations with the highest acquisition value."""

    def __init__(self, configspace: ConfigurationSpace, acquisition_function=None, challengers: int = 5000,
                 seed: int = 0) -> None:
        super().__init__(configspace, acquisition_function, challengers=challengers, seed=seed)
        self._all = enumerate_configs(configspace)
        self._position = {config: i for i, config in enumerate(self._all)}
        self._arrays = np.array([config.get_array() for config in self._all])

    def _maximize(self, previous_configs: list[Configuration], n_points: int) -> list[tuple[float, Configuration]]:
        assert self._acquisition_function is not None
        open_mask = np.ones(len(self._all), dtype=bool)
        for config in previous_configs:
            position = self._position.get(config)
            if position is not None:
                open_mask[position] = False
        candidates = np.flatnonzero(open_mask)
        if candidates.size == 0:
            return []
        values = self._acquisition_function._compute(self._arrays[candidates]).ravel()  # one vectorized call
        values = np.where(np.isnan(values), -np.finfo(float).max, values)
        # highest value first; ties broken by a seeded random key so equal values are not taken in space order
        order = np.lexsort((self._rng.rand(candidates.size), values))[::-1][:n_points]
        return [(float(values[i]), self._all[candidates[i]]) for i in order]
