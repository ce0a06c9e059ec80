"""NPENAS (Wei et al., IEEE TNNLS 2022), its neural-predictor variant NPENAS-NP: evolution whose offspring are
ranked by a neural predictor, the best-predicted child evaluated next.

Here the predictor is a single MLP instead of the paper's graph network (GIN) on the cell's DAG, refit before every
proposal; candidates are mutations of the best configurations found, ranked by predicted loss (no uncertainty).
Features as ``bananas``, but ``optimizer.encoding=onehot`` by default: the paper's predictor is a GIN on the
cell's DAG, which neither encoding reproduces, and on NB201 (cifar10-valid, 100 evaluations, 10 seeds) the path
encoding did not help: final regret 0.41 +- 0.18 against one-hot's 0.28 +- 0.12 (paired, same seeds: +0.13 +- 0.10).
``encoding=auto|path`` uses the space's path encoding where it has one (NB201)."""

from __future__ import annotations

from typing import Any

from nas_exp.optimizers.predictor_search import PredictorGuidedSearch


class NPENAS(PredictorGuidedSearch):
    name = "npenas"

    def __init__(self, *args: Any, acquisition: str = "mean", batch_size: int = 1, n_members: int = 1,
                 encoding: str = "onehot", **kwargs: Any) -> None:
        super().__init__(*args, acquisition=acquisition, batch_size=batch_size, n_members=n_members,
                         encoding=encoding, **kwargs)
