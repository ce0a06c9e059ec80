"""BANANAS (White, Neiswanger & Savani, AAAI 2021): Bayesian optimization with an ensemble of neural predictors,
independent Thompson sampling, and mutation-based acquisition optimization.

Features: ``optimizer.encoding=auto`` (the default) is the paper's path encoding where the space provides one
(capability ``PATHS``; NB201: ``nas_exp/search_spaces/nb201_paths.py``, the cell's input-to-output paths as 84
binary features; declared edge cells: ``cell_paths.py``), else the ConfigSpace's one-hot (NASLib's "adjacency
one-hot" on NB201, the runner-up encoding of the paper's ablation); ``path`` or ``onehot`` forces one. The run
builds the encoder from the space and passes it in (``encoder``), so this class knows only the ConfigSpace. Settings as the paper: 10 initial, ensemble of 5, 10
proposals per predictor fit, candidates by mutating the 10 best."""

from __future__ import annotations

from typing import Any

from nas_exp.optimizers.predictor_search import PredictorGuidedSearch


class Bananas(PredictorGuidedSearch):
    name = "bananas"

    def __init__(self, *args: Any, acquisition: str = "its", **kwargs: Any) -> None:
        super().__init__(*args, acquisition=acquisition, **kwargs)
