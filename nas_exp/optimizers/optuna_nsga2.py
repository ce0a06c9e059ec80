"""Optuna's NSGA-II (Deb et al. 2002) through ask/tell: a genetic algorithm for several objectives at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nas_exp.errors import UserError
from nas_exp.optimizers.optuna_base import OptunaOptimizer


class OptunaNSGAII(OptunaOptimizer):
    """``NSGAIISampler``: generations of ``population_size`` trials, non-dominated sorting and crowding distance
    for selection, uniform crossover, mutation. With one objective it is a plain genetic algorithm."""

    name = "nsga2"
    multi_objective = True
    takes_objectives = True

    def __init__(self, *args: Any, objectives: Sequence[str] = ("loss",), population_size: int = 20,
                 **kwargs: Any) -> None:
        if isinstance(population_size, bool) or not isinstance(population_size, int) or population_size < 2:
            raise UserError(f"optimizer.population_size must be an int >= 2, got {population_size!r}")
        self.objectives, self.population_size = list(objectives), population_size
        super().__init__(*args, **kwargs)

    def n_objectives(self) -> int:
        return len(self.objectives)

    def make_sampler(self, optuna: Any) -> Any:
        return optuna.samplers.NSGAIISampler(seed=self.seed, population_size=self.population_size)
