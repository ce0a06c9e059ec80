"""Joint architecture + hyperparameter search: the NB201 cell plus SGD's learning rate and weight decay.

The 6 categorical edges of ``NB201Space`` and two log-uniform floats, ``learning_rate`` (1e-3..1, NB201: 0.1) and
``weight_decay`` (1e-5..1e-2, NB201: 5e-4). ``from_config`` gives the cell as for ``NB201Space``;
``hyperparameters(config)`` the training hyperparameters, which the runner hands to the evaluator. Only train mode
uses them (``evaluation=train``); with a tabular evaluator the run is refused (``training_hyperparameters``), since
the table holds one training recipe.
The space is infinite, so SMAC needs ``optimizer.acquisition=local_search`` (the exhaustive maximizer enumerates
finite spaces only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ConfigSpace import Configuration, Float

from nas_exp.errors import UserError
from nas_exp.search_spaces.base import FINITE, NETWORK, TABULAR
from nas_exp.search_spaces.nb201 import EDGE_NAMES, Arch, NB201Space

# name -> (low, high, default): NB201's recipe as the default.
HYPERPARAMETERS: dict[str, tuple[float, float, float]] = {
    "learning_rate": (1e-3, 1.0, 0.1),
    "weight_decay": (1e-5, 1e-2, 5e-4),
}


class NB201HPOSpace(NB201Space):
    """``NB201Space`` whose configurations also carry ``learning_rate`` and ``weight_decay`` (log-uniform).
    ``len``, ``sample``, ``neighbors`` and ``mutate`` still count and move cells (architectures) only."""

    name = "nb201_hpo"
    # no CELL_DAG: a one-shot supernet would ignore the training hyperparameters; no PATHS: the cell's paths
    # would leave learning_rate and weight_decay out of a predictor's features (optimizer.encoding=auto: one-hot)
    capabilities = frozenset({TABULAR, NETWORK, FINITE})
    training_hyperparameters = tuple(HYPERPARAMETERS)  # a table holds one recipe: refused with evaluation=tabular

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.configspace.name = "nb201_hpo"
        self.configspace.add([Float(name, (low, high), default=default, log=True)
                              for name, (low, high, default) in HYPERPARAMETERS.items()])

    def to_config(self, arch: Arch, hyperparameters: Mapping[str, float] | None = None) -> Configuration:
        """The configuration of ``arch`` with ``hyperparameters`` (missing ones: NB201's defaults)."""
        arch = arch if isinstance(arch, Arch) else Arch(arch)
        values: dict[str, Any] = {name: default for name, (_, _, default) in HYPERPARAMETERS.items()}
        unknown = sorted(set(hyperparameters or {}) - set(HYPERPARAMETERS))
        if unknown:
            raise UserError(f"unknown hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(HYPERPARAMETERS)}")
        values.update({name: float(value) for name, value in (hyperparameters or {}).items()})
        values.update(zip(EDGE_NAMES, arch))
        return Configuration(self.configspace, values=values)

    def hyperparameters(self, config: Configuration | Mapping[str, Any]) -> dict[str, float]:
        """The training hyperparameters of ``config``: {"learning_rate": ..., "weight_decay": ...}."""
        values = dict(config)
        missing = [name for name in HYPERPARAMETERS if name not in values]
        if missing:
            raise UserError(f"configuration lacks hyperparameter(s) {', '.join(missing)}; it has {sorted(values)}")
        return {name: float(values[name]) for name in HYPERPARAMETERS}
