"""PNAS-style progressive search (Liu et al., ECCV 2018): grow architectures part by part, from simple to
complex, with a surrogate ranking the candidates of each next size.

A space says which value of a hyperparameter means "this part is absent" through ConfigSpace's ``meta``
(``{"absent": value}``; NB201: the op ``none`` removes an edge), so nothing here knows the space. A configuration's
*size* is the number of its hyperparameters that are not absent. The search evaluates every configuration of size
1 (NB201: 24 cells with one edge), then for each next size expands the ``beam`` best configurations of the size
before by one more present part, ranks the children with the surrogate (an ``MLPEnsemble``'s mean prediction,
refit on everything evaluated) and evaluates the ``beam`` best. After the largest size it keeps proposing the
surrogate's best unseen one-part changes of the best configurations found, until the budget ends.
Spaces without an absent value are refused."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from ConfigSpace import Configuration

from nas_exp.configspace_layout import finite_choices
from nas_exp.errors import UserError
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import allowed, sample
from nas_exp.optimizers.mlp_ensemble import MLPEnsemble
from nas_exp.optimizers.predictor_features import OneHotFeatures
from nas_exp.optimizers.predictor_search import key_of, positive_int, predict_losses

ABSENT = "absent"  # the ConfigSpace meta key


class PNAS(Optimizer):
    name = "pnas"

    def __init__(self, *args: Any, beam: int = 8, n_members: int = 5, epochs: int = 200,
                 hidden: tuple[int, ...] | list[int] = (32, 32, 32), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beam = positive_int("beam", beam)
        self._absent: dict[str, Any] = {}
        for hp in self.configspace.values():
            meta = hp.meta or {}
            if ABSENT in meta and finite_choices(hp) is not None and meta[ABSENT] in finite_choices(hp):
                self._absent[hp.name] = meta[ABSENT]
        if not self._absent or self.configspace.conditions:
            raise UserError("optimizer=pnas grows architectures part by part and needs a space whose categorical "
                            "hyperparameters declare the value meaning 'absent' (ConfigSpace meta {'absent': "
                            "value}) and have no conditions; nb201 does, this space does not: use npenas or bananas")
        self.predictor = MLPEnsemble(positive_int("n_members", n_members), tuple(hidden),
                                     positive_int("epochs", epochs), seed=self.seed, who="optimizer=pnas")
        self.features = OneHotFeatures(self.configspace)
        self._rng = np.random.default_rng(self.seed)
        self._told: dict[bytes, tuple[Configuration, float]] = {}
        self._proposed: set[bytes] = set()
        self._queue: deque[Configuration] = deque()
        self._size = 0  # the size whose configurations are queued or being evaluated
        self._max_size = len(self._absent)

    # --- sizes and moves ----------------------------------------------------------------------------------------
    def _base(self) -> dict[str, Any]:
        """Every absent-capable part absent; the others at their default."""
        values = dict(self.configspace.get_default_configuration())
        values.update(self._absent)
        return values

    def size(self, config: Configuration) -> int:
        return sum(config[name] != absent for name, absent in self._absent.items())

    def _config(self, values: dict[str, Any]) -> Configuration | None:
        config = Configuration(self.configspace, values=values)
        if not allowed(config) or key_of(config) in self._proposed:
            return None
        return config

    def _grow(self, parent: dict[str, Any]) -> list[Configuration]:
        """Every configuration with one more present part than ``parent``."""
        children = []
        for name, absent in self._absent.items():
            if parent[name] != absent:
                continue
            for value in finite_choices(self.configspace[name]):
                if value != absent:
                    child = self._config({**parent, name: value})
                    if child is not None:
                        children.append(child)
        return children

    def _changes(self, parent: Configuration) -> list[Configuration]:
        """Every configuration that differs from ``parent`` in one finite hyperparameter."""
        out = []
        for hp in self.configspace.values():
            for value in finite_choices(hp) or ():
                if value != parent[hp.name]:
                    child = self._config({**dict(parent), hp.name: value})
                    if child is not None:
                        out.append(child)
        return out

    def _best(self, candidates: list[Configuration], k: int) -> list[Configuration]:
        unique = list({key_of(c): c for c in candidates}.values())
        if len(unique) <= k and self._size < self._max_size:
            return unique
        scores = predict_losses(self.predictor, self.features, list(self._told.values()), unique).mean(axis=0)
        return [unique[i] for i in np.argsort(scores, kind="stable")[:k]]

    def _top(self, size: int | None) -> list[Configuration]:
        told = [(c, loss) for c, loss in self._told.values() if size is None or self.size(c) == size]
        return [c for c, _ in sorted(told, key=lambda item: item[1])[:self.beam]]

    def _next_batch(self) -> list[Configuration]:
        if self._size == 0:  # every configuration of size 1
            self._size = 1
            return self._grow(self._base())
        if self._size < self._max_size:
            self._size += 1
            parents = self._top(self._size - 1)
            children = [c for parent in parents for c in self._grow(dict(parent))]
            if children:
                return self._best(children, self.beam)
        self._size = self._max_size  # grown: refine the best found by one-part changes
        changes = [c for parent in self._top(None) for c in self._changes(parent)]
        if changes:
            return self._best(changes, 1)
        for _ in range(1000):  # everything near the best is known: any unseen configuration
            config = sample(self.configspace, self._rng)
            if allowed(config) and key_of(config) not in self._proposed:
                return [config]
        return [sample(self.configspace, self._rng)]

    # --- ask/tell -----------------------------------------------------------------------------------------------
    def ask(self) -> Trial:
        while not self._queue:
            self._queue.extend(self._next_batch())
        config = self._queue.popleft()
        self._proposed.add(key_of(config))
        return Trial(config=config)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self._told.setdefault(key_of(trial.config), (trial.config, float(loss)))
