"""Predictor-guided search, the loop BANANAS and NPENAS share: after a random initial design, fit a predictor of
the loss on everything told so far (an ``MLPEnsemble`` in PyTorch), generate candidates by mutating the best configurations found, score them
with an acquisition function over the predictor's outputs, and propose the best-scoring ones.

Features (``encoding``): ``onehot`` comes from the ConfigSpace only (``OneHotFeatures``), so every space of
categorical, ordinal or uniform hyperparameters can be searched; ``path`` is the space's own path encoder, which the
run builds and passes as ``encoder`` where the space declares ``PATHS`` (NB201, declared edge cells); ``auto`` is
the path encoder where one was passed, else one-hot. The predictor is an ``MLPEnsemble``. Everything is seeded from the run's seed.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace

from nas_exp.configspace_layout import finite_choices
from nas_exp.errors import UserError
from nas_exp.feature_encoders import ENCODINGS, ONEHOT, PATH, FeatureEncoder
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import allowed, mutate, sample
from nas_exp.optimizers.mlp_ensemble import MLPEnsemble
from nas_exp.optimizers.predictor_features import OneHotFeatures

ACQUISITIONS = ("its", "mean")
TRIES = 50  # draws per wanted candidate before settling for fewer


def key_of(config: Configuration) -> bytes:
    """A configuration's identity: its encoded vector (``Configuration.__hash__`` disagrees with ``==``)."""
    return config.get_array().tobytes()


def positive_int(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserError(f"optimizer.{name} must be an int >= {least}, got {value!r}")
    return value


def features_for(encoding: str, encoder: FeatureEncoder | None, configspace: ConfigurationSpace,
                 who: str) -> FeatureEncoder:
    """The features of ``optimizer.encoding``: ``onehot`` the ConfigSpace's, ``path`` the space's ``encoder``
    (the run passes it where the space has one), ``auto`` the encoder if passed, else one-hot."""
    if encoding not in ENCODINGS:
        raise UserError(f"unknown optimizer.encoding {encoding!r} for {who}; valid: {', '.join(ENCODINGS)}")
    if encoding == PATH and encoder is None:
        raise UserError(f"optimizer.encoding=path for {who} needs the search space's path encoder, and none was "
                        "given; use optimizer.encoding=auto or onehot")
    if encoder is not None and encoding != ONEHOT:
        return encoder
    return OneHotFeatures(configspace)


def predict_losses(predictor: MLPEnsemble, features: FeatureEncoder, told: list[tuple[Configuration, float]],
                   candidates: list[Configuration]) -> np.ndarray:
    """Refit ``predictor`` on the (configuration, loss) pairs told so far and predict the candidates' losses
    (one row per ensemble member)."""
    predictor.fit(features.many([c for c, _ in told]), np.array([loss for _, loss in told]))
    return predictor.predict(features.many(candidates))


class PredictorGuidedSearch(Optimizer):
    """``n_initial`` random configurations, then batches of ``batch_size`` proposals: the predictor is refit on
    all results, ``n_candidates`` unseen mutations of the ``n_parents`` best configurations are scored by
    ``acquisition`` and the best ``batch_size`` proposed. ``its``: independent Thompson sampling (one draw from
    the normal of the ensemble's mean and spread per candidate, BANANAS' choice); ``mean``: the predicted loss.
    ``encoding``/``encoder``: the predictor's features (``features_for``)."""

    name = "predictor_search"
    takes_encoder = True

    def __init__(self, *args: Any, n_initial: int = 10, batch_size: int = 10, n_candidates: int = 100,
                 n_parents: int = 10, acquisition: str = "its", n_members: int = 5, epochs: int = 200,
                 hidden: tuple[int, ...] | list[int] = (32, 32, 32), encoding: str = "auto",
                 encoder: FeatureEncoder | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_initial = positive_int("n_initial", n_initial, 2)
        self.batch_size = positive_int("batch_size", batch_size)
        self.n_candidates = positive_int("n_candidates", n_candidates)
        self.n_parents = positive_int("n_parents", n_parents)
        if acquisition not in ACQUISITIONS:
            raise UserError(f"unknown optimizer.acquisition {acquisition!r}; valid: {', '.join(ACQUISITIONS)}")
        if acquisition == "its" and n_members < 2:
            raise UserError("optimizer.acquisition=its needs the spread of an ensemble: optimizer.n_members >= 2")
        self.acquisition = acquisition
        self.predictor = MLPEnsemble(positive_int("n_members", n_members), tuple(hidden),
                                     positive_int("epochs", epochs), seed=self.seed, who=f"optimizer={self.name}")
        self.features = features_for(encoding, encoder, self.configspace, f"optimizer={self.name}")
        self.encoding = self.features.name
        self._space = copy.deepcopy(self.configspace)
        self._rng = np.random.default_rng(self.seed)
        self._told: dict[bytes, tuple[Configuration, float]] = {}  # first result of each configuration
        self._proposed: set[bytes] = set()
        self._queue: deque[Configuration] = deque()

    def settings_used(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "n_features": self.features.width}

    # --- candidates ---------------------------------------------------------------------------------------------
    def _fresh(self, draw) -> Configuration | None:
        for _ in range(TRIES):
            config = draw()
            if allowed(config) and key_of(config) not in self._proposed:
                return config
        return None

    def _random(self) -> Configuration:
        config = self._fresh(lambda: sample(self._space, self._rng))
        return config if config is not None else sample(self._space, self._rng)  # the space is used up: a repeat

    def _mutate(self, parent: Configuration) -> Configuration:
        """One active hyperparameter changed: to another of its values if it has finitely many (drawn directly,
        without building the whole neighbourhood), else by ConfigSpace's one-exchange neighbourhood."""
        values = dict(parent)
        name = list(values)[int(self._rng.integers(len(values)))]
        choices = finite_choices(self.configspace[name])
        if choices is None or len(choices) < 2 or self.configspace.conditions:
            return mutate(parent, self._rng)
        others = [c for c in choices if c != values[name]]
        values[name] = others[int(self._rng.integers(len(others)))]
        return Configuration(self.configspace, values=values)

    def _candidates(self) -> list[Configuration]:
        parents = [c for c, _ in sorted(self._told.values(), key=lambda item: item[1])[:self.n_parents]]
        found: dict[bytes, Configuration] = {}
        for i in range(self.n_candidates):
            parent = parents[i % len(parents)]
            child = self._fresh(lambda: self._mutate(parent))
            if child is not None:
                found.setdefault(key_of(child), child)
        return list(found.values())

    def _scores(self, candidates: list[Configuration]) -> np.ndarray:
        predictions = predict_losses(self.predictor, self.features, list(self._told.values()), candidates)
        mean = predictions.mean(axis=0)
        if self.acquisition == "mean":
            return mean
        return self._rng.normal(mean, predictions.std(axis=0))  # independent Thompson sampling

    def _next_batch(self) -> list[Configuration]:
        candidates = self._candidates()
        if not candidates:  # every neighbour of the best is known: explore at random
            return [self._random()]
        best = np.argsort(self._scores(candidates), kind="stable")[:self.batch_size]
        return [candidates[i] for i in best]

    # --- ask/tell -----------------------------------------------------------------------------------------------
    def ask(self) -> Trial:
        if not self._queue:
            if len(self._proposed) < self.n_initial or len(self._told) < 2:
                self._queue.append(self._random())
            else:
                self._queue.extend(self._next_batch())
        config = self._queue.popleft()
        self._proposed.add(key_of(config))
        return Trial(config=config)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self._told.setdefault(key_of(trial.config), (trial.config, float(loss)))
