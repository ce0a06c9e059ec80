"""Acquisition maximization by enumeration, for small finite ConfigSpaces (e.g. NB201's 15,625 cells).

SMAC's default maximizer (local search + sorted random samples) works on any space but, on a space of only
categoricals, often returns configurations it already evaluated and falls back to random samples. When the space
is small enough, scoring every not-yet-evaluated configuration in one vectorized model call is exact and cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from smac.acquisition.maximizer.abstract_acquisition_maximizer import AbstractAcquisitionMaximizer
from smac.acquisition.maximizer.helpers import ChallengerList
from smac.random_design.abstract_random_design import AbstractRandomDesign

from smac.main.exceptions import ConfigurationSpaceExhaustedException

from nas_exp.errors import UserError
from nas_exp.optimizers.config_moves import finite_choices

MAX_CONFIGS = 1_000_000


def _choices(configspace: ConfigurationSpace) -> tuple[list[str], list[tuple], str | None]:
    """Names and value lists of the hyperparameters, and why the space cannot be enumerated (None if it can)."""
    if configspace.conditions or configspace.forbidden_clauses:
        n = len(configspace.conditions) + len(configspace.forbidden_clauses)
        return [], [], (f"exhaustive acquisition needs a ConfigSpace without conditions or forbidden clauses (this "
                        f"one has {n}): use acquisition=local_search (or auto)")
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


def encoded_grid(configspace: ConfigurationSpace) -> np.ndarray:
    """Every configuration of a finite space as ConfigSpace's encoded vectors, one row each, in the order of
    ``itertools.product`` over the hyperparameters' values (the first varies slowest). No ``Configuration`` is
    built: for FCNet's 62,208 configurations this takes milliseconds instead of seconds."""
    names, choices, problem = _choices(configspace)
    if problem is not None:
        raise UserError(problem)
    columns = [configspace[name].to_vector(np.asarray(values, dtype=object)).astype(np.float64)
               for name, values in zip(names, choices)]
    grids = np.meshgrid(*columns, indexing="ij")
    grid = np.empty((int(np.prod([len(c) for c in choices])), len(configspace)), dtype=np.float64)
    for name, values in zip(names, grids):
        grid[:, configspace.index_of[name]] = values.ravel()
    return grid


def enumerate_configs(configspace: ConfigurationSpace) -> list[Configuration]:
    """Every configuration of a finite space of categorical/ordinal hyperparameters without conditions."""
    return [Configuration(configspace, vector=row) for row in encoded_grid(configspace)]


class _LazyConfigs(Sequence):
    """Rows of the grid as ``Configuration`` objects, built only when SMAC's challenger list reaches them."""

    def __init__(self, configspace: ConfigurationSpace, rows: np.ndarray) -> None:
        self._configspace, self._rows = configspace, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        config = Configuration(self._configspace, vector=self._rows[i])
        config.origin = "Acquisition Function Maximizer: exhaustive"
        return config


class _Ranking:
    """Open grid rows in the order ``np.lexsort((keys, values))[::-1][:n_points]`` gives (highest value first,
    ties by the higher random key, then by the higher row), computed lazily: SMAC takes about as many challengers
    as it retrains after (8 for the HPO facade) of the up to 5000 it asks for, so the first ``HEAD`` come from the
    rows whose value reaches the ``HEAD``-th highest (all of the top ``HEAD`` are among them, ties included),
    sorted alone; the full sort runs only if more are read. Same order, without sorting all ~15,000 rows."""

    HEAD = 64

    def __init__(self, candidates: np.ndarray, values: np.ndarray, keys: np.ndarray, n_points: int) -> None:
        self.candidates, self.values, self._keys = candidates, values, keys
        self._length = min(n_points, candidates.size)
        self._head: np.ndarray | None = None
        self._full: np.ndarray | None = None

    def __len__(self) -> int:
        return self._length

    def order(self, stop: int) -> np.ndarray:
        """Positions in ``candidates`` of the first ``stop`` (<= len) ranked rows."""
        if self._full is None and stop <= min(self.HEAD, self._length):
            if self._head is None:
                k = min(self.HEAD, self.values.size)
                threshold = np.partition(self.values, self.values.size - k)[self.values.size - k]
                subset = np.flatnonzero(self.values >= threshold)  # ascending, as lexsort's stable ties need
                self._head = subset[np.lexsort((self._keys[subset], self.values[subset]))[::-1][:k]]
            return self._head[:stop]
        if self._full is None:
            self._full = np.lexsort((self._keys, self.values))[::-1][:self._length]
        return self._full[:stop]


class _RankedConfigs(Sequence):
    """A ``_Ranking``'s rows as ``Configuration`` objects, built only when SMAC's challenger list reaches them."""

    def __init__(self, configspace: ConfigurationSpace, arrays: np.ndarray, ranking: _Ranking) -> None:
        self._configspace, self._arrays, self._ranking = configspace, arrays, ranking

    def __len__(self) -> int:
        return len(self._ranking)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        row = self._ranking.candidates[self._ranking.order(i + 1)[i]]
        config = Configuration(self._configspace, vector=self._arrays[row])
        config.origin = "Acquisition Function Maximizer: exhaustive"
        return config


class ExhaustiveAcquisitionMaximizer(AbstractAcquisitionMaximizer):
    """Returns the ``n_points`` unevaluated configurations with the highest acquisition value.

    Works on the encoded array of the whole space: evaluated configurations are found by their position in the
    grid (computed from their encoded vector, never by ``Configuration`` hashing, which disagrees with equality
    under numpy 2), the acquisition function scores the open rows in one call, and ``Configuration`` objects are
    built only for the challengers SMAC actually takes."""

    def __init__(self, configspace: ConfigurationSpace, acquisition_function=None, challengers: int = 5000,
                 seed: int = 0) -> None:
        super().__init__(configspace, acquisition_function, challengers=challengers, seed=seed)
        self._arrays = encoded_grid(configspace)
        self._known_configs: list[Configuration] = []  # the last ``previous_configs`` and their grid rows
        self._known_positions = np.empty(0, dtype=np.int64)
        names, choices, _ = _choices(configspace)
        # the grid position of a vector, by mixed radix over the hyperparameters (first varies slowest)
        sizes = [len(c) for c in choices]
        self._columns = [configspace.index_of[name] for name in names]
        self._strides = np.array([int(np.prod(sizes[k + 1:])) for k in range(len(sizes))], dtype=np.int64)
        self._codes = [{float(v): k for k, v in enumerate(np.unique(self._arrays[:, column]))}
                       for column in self._columns]
        for codes, column in zip(self._codes, self._columns):  # encoded values must sort as the choices do
            assert list(codes) == sorted(codes) and len(codes) == len(set(self._arrays[:, column]))

    def positions(self, configs: Sequence[Configuration]) -> np.ndarray:
        """Grid rows of ``configs`` (by their encoded vectors)."""
        if not configs:
            return np.empty(0, dtype=np.int64)
        vectors = np.array([config.get_array() for config in configs], dtype=np.float64)
        digits = np.array([[codes[float(v)] for v in vectors[:, column]]
                           for codes, column in zip(self._codes, self._columns)], dtype=np.int64)
        return self._strides @ digits

    def _open_rows(self, previous_configs: list[Configuration]) -> np.ndarray:
        """Grid rows not in ``previous_configs``, ascending. SMAC passes ``RunHistory.get_configs()``, which only
        grows at its end between calls: positions already computed for the same leading ``Configuration``
        objects are reused, and only the new ones are encoded (the result is as if all were)."""
        known = self._known_configs
        n = len(known)
        if len(previous_configs) >= n and all(a is b for a, b in zip(previous_configs, known)):
            fresh = self.positions(previous_configs[n:])
            self._known_positions = np.concatenate([self._known_positions, fresh])
        else:
            self._known_positions = self.positions(previous_configs)
        self._known_configs = list(previous_configs)
        open_mask = np.ones(len(self._arrays), dtype=bool)
        open_mask[self._known_positions] = False
        return np.flatnonzero(open_mask)

    def _ranking(self, previous_configs: list[Configuration], n_points: int) -> _Ranking:
        """The open configurations by acquisition value (highest first), ``n_points`` at most, sorted lazily."""
        assert self._acquisition_function is not None
        candidates = self._open_rows(previous_configs)
        if candidates.size == 0:
            return _Ranking(candidates, np.empty(0), np.empty(0), n_points)
        values = self._acquisition_function._compute(self._arrays[candidates]).ravel()  # one vectorized call
        values = np.where(np.isnan(values), -np.finfo(float).max, values)
        # highest value first; ties broken by a seeded random key so equal values are not taken in space order
        return _Ranking(candidates, values, self._rng.rand(candidates.size), n_points)

    def _ranked(self, previous_configs: list[Configuration], n_points: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and acquisition values of the best ``n_points`` open configurations, best first."""
        ranking = self._ranking(previous_configs, n_points)
        order = ranking.order(len(ranking))
        return ranking.candidates[order], ranking.values[order]

    def _maximize(self, previous_configs: list[Configuration], n_points: int) -> list[tuple[float, Configuration]]:
        rows, values = self._ranked(previous_configs, n_points)
        configs = _LazyConfigs(self._configspace, self._arrays[rows])
        return [(float(value), configs[i]) for i, value in enumerate(values)]

    def maximize(self, previous_configs: list[Configuration], n_points: int | None = None,
                 random_design: AbstractRandomDesign | None = None) -> Iterator[Configuration]:
        """``AbstractAcquisitionMaximizer.maximize`` with the challengers built lazily: SMAC asks for up to 5000
        but takes about as many as it retrains after (8 for the HPO facade)."""
        n_points = self._challengers if n_points is None else n_points

        def challengers() -> Sequence[Configuration]:
            ranking = self._ranking(previous_configs, n_points)
            if len(ranking) == 0:  # every configuration evaluated: SMAC's signal, not its ChallengerList's IndexError
                raise ConfigurationSpaceExhaustedException()
            return _RankedConfigs(self._configspace, self._arrays, ranking)

        challenger_list = ChallengerList(self._configspace, challengers, random_design)
        if random_design is not None:
            random_design.next_iteration()
        return challenger_list
