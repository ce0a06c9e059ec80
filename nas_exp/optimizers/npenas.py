"""NPENAS (Wei et al., IEEE TNNLS 2022), its neural-predictor variant NPENAS-NP: evolution whose offspring are
ranked by a neural predictor, the best-predicted child evaluated next.

Here the predictor is a single MLP on the ConfigSpace's one-hot features instead of the paper's graph network (a
space-independent stand-in), refit before every proposal; candidates are mutations of the best configurations
found, ranked by predicted loss (no uncertainty)."""

from __future__ import annotations

from typing import Any

from nas_exp.optimizers.predictor_search import PredictorGuidedSearch


class NPENAS(PredictorGuidedSearch):
    name = "npenas"

    def __init__(self, *args: Any, acquisition: str = "mean", batch_size: int = 1, n_members: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(*args, acquisition=acquisition, batch_size=batch_size, n_members=n_members, **kwargs)
