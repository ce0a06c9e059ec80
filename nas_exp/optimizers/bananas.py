"""BANANAS (White, Neiswanger & Savani, AAAI 2021): Bayesian optimization with an ensemble of neural predictors,
independent Thompson sampling, and mutation-based acquisition optimization.

Here with the ConfigSpace's one-hot features (NASLib's "adjacency one-hot" on NB201) instead of the paper's path
encoding, which needs the cell's graph and so a space-specific encoder; the paper's ablation reports one-hot as the
runner-up encoding. Settings as the paper: 10 initial, ensemble of 5, 10 proposals per predictor fit, candidates
by mutating the 10 best."""

from __future__ import annotations

from typing import Any

from nas_exp.optimizers.predictor_search import PredictorGuidedSearch


class Bananas(PredictorGuidedSearch):
    name = "bananas"

    def __init__(self, *args: Any, acquisition: str = "its", **kwargs: Any) -> None:
        super().__init__(*args, acquisition=acquisition, **kwargs)
