"""Optuna's samplers behind nas-exp's ask/tell interface (the ``optuna`` extra).

The ConfigSpace is translated once into Optuna distributions: a categorical hyperparameter becomes a
``CategoricalDistribution`` over its choices, an ordinal one an ``IntDistribution`` over the positions of its
sequence (so a sampler that models order, as TPE does for integers, keeps it), integers and floats their own range
(with ``log``). Each ask is ``study.ask(distributions)``; values of hyperparameters made inactive by a condition are
dropped, and a proposal the space forbids is told to Optuna as failed and another is asked (it is not an
evaluation); after ``FORBIDDEN_RETRIES`` forbidden proposals in a row (TPE models each hyperparameter on its own and
cannot learn a joint forbidden clause from failures), a random valid configuration of the space is asked instead, as
fixed parameters (``enqueue_trial``), so the sampler still learns from its result. Optuna's samplers are seeded and, used sequentially through ask/tell, deterministic: the same seed
gives the same trajectory.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ConfigSpace import (CategoricalHyperparameter, Configuration, ConfigurationSpace, Constant,
                         OrdinalHyperparameter, UniformFloatHyperparameter, UniformIntegerHyperparameter)
from ConfigSpace.exceptions import ForbiddenValueError
from ConfigSpace.util import deactivate_inactive_hyperparameters

from nas_exp.errors import UserError, import_optional
from nas_exp.optimizers.base import Optimizer, Trial

FORBIDDEN_RETRIES = 10


def import_optuna(optimizer_name: str) -> Any:
    return import_optional("optuna", f"optimizer={optimizer_name}",
                           "optuna: pip install 'nas-exp[optuna]' (or pip install 'optuna>=4,<6')")


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value Optuna stores (its categorical choices must be None/bool/int/float/str)."""
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class Translation:
    """How one hyperparameter is asked of Optuna and turned back into its ConfigSpace value."""

    name: str
    distribution: Any
    sequence: tuple | None = None  # ordinal: Optuna asks for a position in this sequence

    def value(self, asked: Any) -> Any:
        return self.sequence[asked] if self.sequence is not None else asked

    def asked(self, value: Any) -> Any:
        """The inverse of ``value``: what Optuna holds for a ConfigSpace value."""
        return self.sequence.index(plain(value)) if self.sequence is not None else plain(value)


def translate(configspace: ConfigurationSpace, optuna: Any) -> list[Translation]:
    """One ``Translation`` per hyperparameter, in the ConfigSpace's order."""
    dists = optuna.distributions
    out: list[Translation] = []
    for hp in configspace.values():
        if isinstance(hp, Constant):
            out.append(Translation(hp.name, dists.CategoricalDistribution([plain(hp.value)])))
        elif isinstance(hp, CategoricalHyperparameter):
            out.append(Translation(hp.name, dists.CategoricalDistribution([plain(c) for c in hp.choices])))
        elif isinstance(hp, OrdinalHyperparameter):
            sequence = tuple(plain(v) for v in hp.sequence)
            out.append(Translation(hp.name, dists.IntDistribution(0, len(sequence) - 1), sequence))
        elif isinstance(hp, UniformIntegerHyperparameter):
            out.append(Translation(hp.name, dists.IntDistribution(int(hp.lower), int(hp.upper), log=hp.log)))
        elif isinstance(hp, UniformFloatHyperparameter):
            out.append(Translation(hp.name, dists.FloatDistribution(float(hp.lower), float(hp.upper), log=hp.log)))
        else:
            raise UserError(f"Optuna's samplers cannot search hyperparameter {hp.name!r} of type "
                            f"{type(hp).__name__}; use a uniform, categorical or ordinal hyperparameter")
    return out


class OptunaOptimizer(Optimizer):
    """An Optuna study driven by ask/tell; subclasses choose the sampler (``make_sampler``)."""

    name = "optuna"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        optuna = import_optuna(self.name)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._failed = optuna.trial.TrialState.FAIL
        self._translations = translate(self.configspace, optuna)
        self._distributions = {t.name: t.distribution for t in self._translations}
        self._fallback_space = copy.deepcopy(self.configspace)  # random valid configurations (see ask)
        self._fallback_space.seed(self.seed)
        self.study = optuna.create_study(sampler=self.make_sampler(optuna),
                                         directions=["minimize"] * self.n_objectives())

    def make_sampler(self, optuna: Any) -> Any:
        raise NotImplementedError

    def n_objectives(self) -> int:
        return 1

    def _configuration(self, params: dict[str, Any]) -> Configuration:
        values = {t.name: t.value(params[t.name]) for t in self._translations}
        config = deactivate_inactive_hyperparameters(values, self.configspace)
        config.check_valid_configuration()  # forbidden clauses
        return config

    def ask(self) -> Trial:
        for _ in range(FORBIDDEN_RETRIES):
            asked = self.study.ask(self._distributions)
            try:
                return Trial(config=self._configuration(asked.params), handle=asked)
            except ForbiddenValueError:
                self.study.tell(asked, state=self._failed)  # not an evaluation
        valid = self._fallback_space.sample_configuration()
        by_name = {t.name: t for t in self._translations}
        self.study.enqueue_trial({name: by_name[name].asked(value) for name, value in dict(valid).items()})
        asked = self.study.ask(self._distributions)  # the enqueued parameters; inactive ones sampled, then dropped
        return Trial(config=self._configuration(asked.params), handle=asked)

    def tell(self, trial: Trial, loss: float | list[float], cost: float) -> None:
        self.study.tell(trial.handle, loss)
