"""SMAC's HyperparameterOptimizationFacade (random forest + EI) driven through ask/tell.

Notes (SMAC 2.4): its output folder is always written, so it is pointed into the run's own folder; ``overwrite``
is forced so an identical earlier run is never silently resumed; ``deterministic=True`` because a tabular lookup
of a configuration never changes. Runs are reproducible only with PYTHONHASHSEED=0 (run.py sees to it).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from smac import HyperparameterOptimizationFacade, Scenario
from smac.model.random_forest import RandomForest
from smac.runhistory.dataclasses import TrialValue

from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.exhaustive_acquisition import ExhaustiveAcquisitionMaximizer

_UNBOUNDED_TRIALS = 100_000
ACQUISITION_MAXIMIZERS = ("exhaustive", "local_search")


class SMACOptimizer(Optimizer):
    name = "smac"

    def __init__(self, *args, n_initial: int | None = None, n_trees: int = 10, rf_n_jobs: int = 1,
                 max_config_calls: int = 1,
                 acquisition: str = "exhaustive", log_level: int = logging.ERROR, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if acquisition not in ACQUISITION_MAXIMIZERS:
            raise ValueError(f"unknown optimizer.acquisition {acquisition!r}; valid: {', '.join(ACQUISITION_MAXIMIZERS)}")
        logging.getLogger("smac").setLevel(log_level)  # also after Hydra re-configures logging for a later job
        output_dir = Path(self.output_dir) if self.output_dir is not None else Path(tempfile.mkdtemp())
        scenario = Scenario(
            self.configspace,
            name="smac",
            output_directory=output_dir / "smac3",
            deterministic=True,
            n_trials=self.max_trials or _UNBOUNDED_TRIALS,
            seed=self.seed,
        )
        facade = HyperparameterOptimizationFacade
        if n_initial is None:
            initial_design = facade.get_initial_design(scenario)
        else:
            initial_design = facade.get_initial_design(scenario, n_configs=n_initial)
        model = RandomForest(
            scenario.configspace, log_y=True, n_trees=n_trees, ratio_features=1.0, min_samples_split=2,
            min_samples_leaf=1, max_depth=2**20, bootstrapping=True, seed=scenario.seed, n_jobs=rf_n_jobs,
        )
        if acquisition == "exhaustive":
            maximizer = ExhaustiveAcquisitionMaximizer(scenario.configspace, seed=scenario.seed)
        else:
            maximizer = facade.get_acquisition_maximizer(scenario)
        self.smac = facade(
            scenario,
            target_function=self._no_target,
            model=model,
            initial_design=initial_design,
            acquisition_maximizer=maximizer,
            intensifier=facade.get_intensifier(scenario, max_config_calls=max_config_calls),
            overwrite=True,
            logging_level=log_level,
        )

    @staticmethod
    def _no_target(config, seed: int = 0) -> float:  # pragma: no cover - ask/tell never calls it
        raise RuntimeError("SMACOptimizer is driven by ask/tell")

    def ask(self) -> Trial:
        info = self.smac.ask()
        return Trial(config=info.config, budget=info.budget, handle=info)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self.smac.tell(trial.handle, TrialValue(cost=loss, time=cost))
