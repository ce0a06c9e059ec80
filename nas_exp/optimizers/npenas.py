"""NPENAS (Wei et al., IEEE TNNLS 2022), its neural-predictor variant NPENAS-NP: evolution whose offspring are
ranked by a neural predictor, the best-predicted child evaluated next.

Here the predictor is a single MLP instead of the paper's graph network (GIN) on the cell's DAG, refit before every
proposal; candidates are mutations of the best configurations found, ranked by predicted loss (no uncertainty).
Features as ``bananas``: ``optimizer.encoding=auto`` (default) is the space's path encoding where it has one
(NB201), else the ConfigSpace's one-hot. Of the two, the path encoding is the one computed from the graph the paper's
predictor reads, with ``none`` edges removed as NPENAS' own NB201 cell removes them (its code also offers a path
encoding over the 4 other ops as a predictor input); ``onehot`` keeps the edge-by-edge encoding."""

from __future__ import annotations

from typing import Any

from nas_exp.optimizers.predictor_search import PredictorGuidedSearch


class NPENAS(PredictorGuidedSearch):
    name = "npenas"

    def __init__(self, *args: Any, acquisition: str = "mean", batch_size: int = 1, n_members: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(*args, acquisition=acquisition, batch_size=batch_size, n_members=n_members, **kwargs)
