"""SMAC's HyperparameterOptimizationFacade (random forest + EI) driven through ask/tell; with several objectives,
ParEGO scalarises them with fresh random weights for each proposal."""

from __future__ import annotations

from smac import HyperparameterOptimizationFacade
from smac.multi_objective.parego import ParEGO

from nas_exp.optimizers.exhaustive_acquisition import ExhaustiveAcquisitionMaximizer
from nas_exp.optimizers.smac_base import SMACAskTell, random_forest

ACQUISITION_MAXIMIZERS = ("exhaustive", "local_search")
MULTI_OBJECTIVE = ("parego",)


class SMACOptimizer(SMACAskTell):
    name = "smac"

    def __init__(self, *args, n_initial: int | None = None, n_trees: int = 10, rf_n_jobs: int = 1,
                 rf_max_leaf_nodes: int | None = None,
                 max_config_calls: int = 1, acquisition: str = "exhaustive",
                 objectives: list[str] | None = None, multi_objective: str = "parego", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        objectives = list(objectives or ["error"])
        self.multi_objective = len(objectives) > 1
        if acquisition not in ACQUISITION_MAXIMIZERS:
            raise ValueError(f"unknown optimizer.acquisition {acquisition!r}; valid: {', '.join(ACQUISITION_MAXIMIZERS)}")
        if multi_objective not in MULTI_OBJECTIVE:
            raise ValueError(f"unknown optimizer.multi_objective {multi_objective!r}; valid: {', '.join(MULTI_OBJECTIVE)}")
        scenario = self.scenario(objectives=objectives if self.multi_objective else "cost")
        facade = HyperparameterOptimizationFacade
        if n_initial is None:
            initial_design = facade.get_initial_design(scenario)
        else:
            initial_design = facade.get_initial_design(scenario, n_configs=n_initial)
        model = random_forest(scenario, n_trees=n_trees, n_jobs=rf_n_jobs, max_leaf_nodes=rf_max_leaf_nodes)
        if acquisition == "exhaustive":
            maximizer = ExhaustiveAcquisitionMaximizer(scenario.configspace, seed=scenario.seed)
        else:
            maximizer = facade.get_acquisition_maximizer(scenario)
        self.smac = facade(
            scenario,
            target_function=self.no_target,
            model=model,
            initial_design=initial_design,
            acquisition_maximizer=maximizer,
            intensifier=facade.get_intensifier(scenario, max_config_calls=max_config_calls),
            multi_objective_algorithm=ParEGO(scenario, seed=scenario.seed) if self.multi_objective else None,
            overwrite=True,
            logging_level=self.log_level,
        )
