"""Optuna's TPE (tree-structured Parzen estimator, Bergstra et al. 2011; Watanabe 2023) through ask/tell."""

from __future__ import annotations

from typing import Any

from nas_exp.errors import UserError
from nas_exp.optimizers.optuna_base import OptunaOptimizer


class OptunaTPE(OptunaOptimizer):
    """``TPESampler`` with Optuna's defaults but for the two settings offered: ``n_startup_trials`` (random
    trials before the density model, Optuna's default 10) and ``multivariate`` (one joint density over all
    hyperparameters; Optuna 5 chooses it for one objective, Optuna 4 did not, so it is set explicitly here)."""

    name = "tpe"

    def __init__(self, *args: Any, n_startup_trials: int = 10, multivariate: bool = True, **kwargs: Any) -> None:
        if isinstance(n_startup_trials, bool) or not isinstance(n_startup_trials, int) or n_startup_trials < 1:
            raise UserError(f"optimizer.n_startup_trials must be an int >= 1, got {n_startup_trials!r}")
        if not isinstance(multivariate, bool):
            raise UserError(f"optimizer.multivariate must be true or false, got {multivariate!r}")
        self.n_startup_trials, self.multivariate = n_startup_trials, multivariate
        super().__init__(*args, **kwargs)

    def make_sampler(self, optuna: Any) -> Any:
        import warnings

        with warnings.catch_warnings():  # multivariate=True is "experimental" in Optuna's words
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials,
                                              multivariate=self.multivariate)
