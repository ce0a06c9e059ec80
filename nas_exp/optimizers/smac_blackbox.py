"""SMAC's BlackBoxFacade: a Gaussian process (with SMAC's kernel for categorical inputs) + EI, via ask/tell."""

from __future__ import annotations

from contextlib import nullcontext

from smac import BlackBoxFacade
from threadpoolctl import ThreadpoolController

from nas_exp.checks import require_int
from nas_exp.optimizers.base import Trial
from nas_exp.optimizers.smac_base import (SMACAskTell, acquisition_maximizer, check_acquisition, check_n_initial,
                                          config_selector, initial_design, intensifier)
from nas_exp.optimizers.smac_components import ScheduledGaussianProcess, use_lookup_run_history, with_lookup_hamming


class SMACBlackBox(SMACAskTell):
    """``gp_warmup``/``gp_growth``: the kernel hyperparameters are optimized on each of the first ``gp_warmup``
    fits, then whenever the data grew by ``gp_growth`` since the last optimization (``ScheduledGaussianProcess``);
    ``gp_growth=0`` is SMAC's own schedule (every fit). ``gp_restarts``: the L-BFGS restarts of each such
    optimization (SMAC's ``GaussianProcess(n_restarts=...)``, 10 there). ``blas_threads``: BLAS threads while
    SMAC asks and is told (the GP's Cholesky and triangular solves over the candidates); null leaves the
    process's setting."""

    name = "smac_bb"
    proposes_each_once = True

    def __init__(self, *args, n_initial: int | None = None, acquisition: str = "auto", gp_warmup: int = 20,
                 gp_growth: float = 0.25, gp_restarts: int = 10, blas_threads: int | None = 1,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_acquisition(acquisition)
        check_n_initial(n_initial)
        require_int(gp_restarts, "optimizer.gp_restarts", 0)
        if blas_threads is not None:
            require_int(blas_threads, "optimizer.blas_threads (or null: the process's setting)", 1)
        scenario = self.scenario()
        facade = BlackBoxFacade
        model = ScheduledGaussianProcess(configspace=scenario.configspace,
                                         kernel=with_lookup_hamming(facade.get_kernel(scenario)),
                                         n_restarts=gp_restarts, normalize_y=True, seed=scenario.seed,
                                         warmup=gp_warmup, growth=gp_growth)
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
        use_lookup_run_history(self.smac)  # O(1) objective bounds per add (smac_components)
        self._threads = ThreadpoolController() if blas_threads is not None else None  # after numpy/scipy load
        self.blas_threads = blas_threads

    def _blas(self):
        if self._threads is None:
            return nullcontext()
        return self._threads.limit(limits=self.blas_threads, user_api="blas")

    def ask(self) -> Trial:
        with self._blas():
            return super().ask()

    def tell(self, trial: Trial, loss: float | list[float], cost: float) -> None:
        with self._blas():
            super().tell(trial, loss, cost)
