"""SMAC's BlackBoxFacade: a Gaussian process (with SMAC's kernel for categorical inputs) + EI, via ask/tell."""

from __future__ import annotations

from smac import BlackBoxFacade

from nas_exp.optimizers.smac_base import (SMACAskTell, acquisition_maximizer, check_acquisition, check_n_initial,
                                          config_selector, initial_design, intensifier)
from nas_exp.optimizers.smac_components import ScheduledGaussianProcess


class SMACBlackBox(SMACAskTell):
    """``gp_warmup``/``gp_growth``: the kernel hyperparameters are optimized on each of the first ``gp_warmup``
    fits, then whenever the data grew by ``gp_growth`` since the last optimization (``ScheduledGaussianProcess``);
    ``gp_growth=0`` is SMAC's own schedule (every fit)."""

    name = "smac_bb"
    proposes_each_once = True

    def __init__(self, *args, n_initial: int | None = None, acquisition: str = "auto", gp_warmup: int = 20,
                 gp_growth: float = 0.25, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_acquisition(acquisition)
        check_n_initial(n_initial)
        scenario = self.scenario()
        facade = BlackBoxFacade
        model = ScheduledGaussianProcess(configspace=scenario.configspace, kernel=facade.get_kernel(scenario),
                                         normalize_y=True, seed=scenario.seed, warmup=gp_warmup, growth=gp_growth)
        self.smac = facade(
            scenario,
            target_function=self.no_target,
            model=model,
            initial_design=initial_design(facade, scenario, n_initial, self.expected_trials),
            acquisition_maximizer=acquisition_maximizer(facade, scenario, acquisition),
            intensifier=intensifier(facade, scenario, max_config_calls=1, max_incumbents=20),  # the facade's 20
            config_selector=config_selector(facade, scenario),
            overwrite=True,
            logging_level=False,  # SMAC would replace the run's logging setup (run.log); its level: log_level
        )
