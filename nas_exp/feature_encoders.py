"""What a feature encoder is: configurations in, one fixed-width row of floats per configuration out, the input of
the predictors of predictor-based search (``bananas``, ``npenas``).

Two kinds exist. The ConfigSpace's one-hot (``nas_exp/optimizers/predictor_features.py: OneHotFeatures``, name
``onehot``) works on every space. A space may provide its own from what only it knows, declared as a capability:
``PATHS`` spaces return a path encoder from ``SearchSpace.path_encoder()`` (name ``path``; NB201:
``nas_exp/search_spaces/nb201_paths.py``; declared edge cells: ``nas_exp/search_spaces/cell_paths.py``).
Optimizers see only this protocol, never the space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from ConfigSpace import Configuration

ONEHOT = "onehot"
PATH = "path"
ENCODINGS = ("auto", PATH, ONEHOT)  # optimizer.encoding; auto: the space's path encoding where it has one


class FeatureEncoder(Protocol):
    """``many(configs)`` -> a float array of shape (len(configs), width)."""

    name: str  # what result.json records as the run's encoding (optimizer_settings.encoding)
    width: int

    def many(self, configs: Sequence[Configuration]) -> np.ndarray: ...
