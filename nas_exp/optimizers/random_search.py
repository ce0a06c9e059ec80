"""Random search: uniform samples from the ConfigSpace, without repeats until the space is exhausted."""

from __future__ import annotations

import copy

from ConfigSpace import Configuration

from nas_exp.optimizers.base import Optimizer, Trial


class RandomSearch(Optimizer):
    name = "random"
    multi_objective = True  # ignores the loss, so any number of objectives is fine

    def __init__(self, *args, max_resample: int = 1000, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._configspace = copy.deepcopy(self.configspace)
        self._configspace.seed(self.seed)
        self._proposed: set[Configuration] = set()
        self.max_resample = max_resample

    def ask(self) -> Trial:
        for _ in range(self.max_resample):
            config = self._configspace.sample_configuration()
            if config not in self._proposed:
                break
        self._proposed.add(config)
        return Trial(config=config)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        pass
