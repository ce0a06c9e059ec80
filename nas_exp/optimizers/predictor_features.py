"""Features of a configuration for the predictors of predictor-based NAS (BANANAS, NPENAS), from the ConfigSpace
alone: one-hot for each categorical or ordinal hyperparameter (on NB201: one op per edge, the "adjacency one-hot"
encoding of NASLib), the [0, 1] position in its range for a numerical one, zeros where a condition deactivates it.
A ``FeatureEncoder`` (nas_exp/feature_encoders.py) named ``onehot``; a space may offer a path encoder instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace

from nas_exp.configspace_layout import finite_choices
from nas_exp.feature_encoders import ONEHOT


class OneHotFeatures:
    """``features(config)`` -> a float vector; ``width`` columns."""

    name = ONEHOT

    def __init__(self, configspace: ConfigurationSpace) -> None:
        self._columns: list[tuple[str, dict | None, int]] = []  # (name, value -> offset or None, first column)
        width = 0
        for hp in configspace.values():
            choices = finite_choices(hp)
            if choices is None:
                self._columns.append((hp.name, None, width))
                width += 1
            else:
                self._columns.append((hp.name, {value: i for i, value in enumerate(choices)}, width))
                width += len(choices)
        self.width = width
        self._index = {name: configspace.index_of[name] for name, _, _ in self._columns}
        self._hps = {hp.name: hp for hp in configspace.values()}

    def __call__(self, config: Configuration) -> np.ndarray:
        out = np.zeros(self.width)
        vector = config.get_array()
        for name, positions, first in self._columns:
            value = vector[self._index[name]]
            if np.isnan(value):  # inactive
                continue
            if positions is None:
                out[first] = value  # ConfigSpace's own [0, 1] encoding of a numerical value
            else:
                out[first + positions[config[name]]] = 1.0
        return out

    def many(self, configs: Sequence[Configuration]) -> np.ndarray:
        return np.array([self(config) for config in configs]).reshape(len(configs), self.width)
