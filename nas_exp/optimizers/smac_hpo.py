"""SMAC's HyperparameterOptimizationFacade (random forest + EI) driven through ask/tell; with several objectives,
ParEGO scalarises them with fresh random weights for each proposal."""

from __future__ import annotations

from smac import HyperparameterOptimizationFacade
from smac.multi_objective.parego import ParEGO

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.optimizers.smac_base import (SMACAskTell, acquisition_maximizer, check_acquisition, check_forest,
                                          check_n_initial, config_selector, initial_design, intensifier,
                                          random_forest)
from nas_exp.optimizers.smac_components import runhistory_encoder, use_lookup_run_history

MULTI_OBJECTIVE = ("parego",)


class SMACOptimizer(SMACAskTell):
    takes_objectives = True  # one objective, or several with ParEGO (multi_objective is set from them)
    name = "smac"
    proposes_each_once = True

    def __init__(self, *args, n_initial: int | None = None, n_trees: int = 10, rf_n_jobs: int = 1,
                 rf_max_leaf_nodes: int | None = None, rf_max_points: int | None = None,
                 max_config_calls: int = 1, acquisition: str = "auto",
                 objectives: list[str] | None = None, multi_objective: str = "parego", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        objectives = list(objectives or ["error"])
        self.multi_objective = len(objectives) > 1
        check_acquisition(acquisition)
        check_n_initial(n_initial)
        check_forest(n_trees, rf_max_leaf_nodes, rf_n_jobs, rf_max_points)
        require_int(max_config_calls, "optimizer.max_config_calls")
        if multi_objective not in MULTI_OBJECTIVE:
            raise UserError(f"unknown optimizer.multi_objective {multi_objective!r}; valid: {', '.join(MULTI_OBJECTIVE)}")
        scenario = self.scenario(objectives=objectives if self.multi_objective else "cost")
        facade = HyperparameterOptimizationFacade
        model = random_forest(scenario, n_trees=n_trees, n_jobs=rf_n_jobs, max_leaf_nodes=rf_max_leaf_nodes,
                              max_points=rf_max_points)
        self.smac = facade(
            scenario,
            target_function=self.no_target,
            model=model,
            initial_design=initial_design(facade, scenario, n_initial, self.expected_trials),
            acquisition_maximizer=acquisition_maximizer(facade, scenario, acquisition),
            intensifier=intensifier(facade, scenario, max_config_calls=max_config_calls),
            config_selector=config_selector(facade, scenario),
            runhistory_encoder=runhistory_encoder(facade, scenario),
            multi_objective_algorithm=ParEGO(scenario, seed=scenario.seed) if self.multi_objective else None,
            overwrite=True,
            logging_level=False,  # SMAC would replace the run's logging setup (run.log); its level: log_level
        )
        use_lookup_run_history(self.smac)  # O(1) objective bounds per add (smac_components)
