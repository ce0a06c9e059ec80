"""SMAC's BlackBoxFacade: a Gaussian process (with SMAC's kernel for categorical inputs) + EI, via ask/tell."""

from __future__ import annotations

from smac import BlackBoxFacade

from nas_exp.optimizers.exhaustive_acquisition import ExhaustiveAcquisitionMaximizer
from nas_exp.optimizers.smac_base import SMACAskTell
from nas_exp.optimizers.smac_hpo import ACQUISITION_MAXIMIZERS


class SMACBlackBox(SMACAskTell):
    name = "smac_bb"

    def __init__(self, *args, n_initial: int | None = None, acquisition: str = "exhaustive",
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if acquisition not in ACQUISITION_MAXIMIZERS:
            raise ValueError(f"unknown optimizer.acquisition {acquisition!r}; valid: {', '.join(ACQUISITION_MAXIMIZERS)}")
        scenario = self.scenario()
        facade = BlackBoxFacade
        initial_design = (facade.get_initial_design(scenario) if n_initial is None
                          else facade.get_initial_design(scenario, n_configs=n_initial))
        maximizer = (ExhaustiveAcquisitionMaximizer(scenario.configspace, seed=scenario.seed)
                     if acquisition == "exhaustive" else facade.get_acquisition_maximizer(scenario))
        self.smac = facade(
            scenario,
            target_function=self.no_target,
            initial_design=initial_design,
            acquisition_maximizer=maximizer,
            intensifier=facade.get_intensifier(scenario, max_config_calls=1),
            overwrite=True,
            logging_level=self.log_level,
        )
