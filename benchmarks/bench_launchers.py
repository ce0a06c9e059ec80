"""Launcher speed: the same 4-seed sweep with Hydra's basic launcher (one job after another, one process) and with
joblib (local worker processes), optionally submitit_local; wall time and ratio against basic, and whether every
launcher wrote the same trajectories. A second table: one run with parallel.n_workers threads, each evaluation a
table lookup plus --eval-seconds of sleep (a stand-in for training).

Run: `python benchmarks/bench_launchers.py [--optimizer smac --evaluations 60 --seeds 4 --n-jobs 2
      --launchers basic joblib submitit_local --repeat 1 --eval-seconds 0.05]`
The load average is printed with each table: on a shared machine, other work skews the ratios.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console()


@dataclass(frozen=True)
class SweepTiming:
    launcher: str
    wall: float  # seconds, best of the repeats
    complete: int  # jobs with a result.json
    trajectories: tuple[tuple[tuple[str, ...], ...], ...]  # per job, rows without wall_time


def sweep_args(launcher: str, optimizer: str, evaluations: int, seeds: int, n_jobs: int, sweep_dir: Path) -> list[str]:
    args = [f"optimizer={optimizer}", f"budget.max_evaluations={evaluations}", "progress=false",
            f"hydra.sweep.dir={sweep_dir}", f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        args.append(f"hydra.launcher.n_jobs={n_jobs}")
    return [*args, "-m", "seed=" + ",".join(map(str, range(seeds)))]


def read_trajectories(sweep_dir: Path) -> tuple[tuple[tuple[str, ...], ...], ...]:
    jobs = sorted((p for p in sweep_dir.iterdir() if (p / "trajectory.csv").is_file()),
                  key=lambda p: int(p.name.split("_")[0]))
    found = []
    for job in jobs:
        with open(job / "trajectory.csv", newline="") as handle:
            found.append(tuple(tuple(v for k, v in row.items() if k != "wall_time") for row in csv.DictReader(handle)))
    return tuple(found)


def time_sweep(launcher: str, args: argparse.Namespace, workdir: Path) -> SweepTiming:
    best = float("inf")
    sweep_dir = workdir
    for attempt in range(args.repeat):
        sweep_dir = workdir / f"{launcher}-{attempt}"
        command = [sys.executable, str(REPO / "run.py"),
                   *sweep_args(launcher, args.optimizer, args.evaluations, args.seeds, args.n_jobs, sweep_dir)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            console.print(f"[red]{launcher} failed[/]:\n{done.stderr[-2000:]}")
            raise SystemExit(1)
        best = min(best, elapsed)
    complete = sum(1 for _ in sweep_dir.glob("*/result.json"))
    return SweepTiming(launcher, best, complete, read_trajectories(sweep_dir))


class SleepingEvaluator:
    """A tabular evaluator that also sleeps ``seconds`` per evaluation (as a training would take time)."""

    def __init__(self, inner, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def evaluate(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.inner.evaluate(*args, **kwargs)


def bench_workers(seconds: float, evaluations: int = 48, workers: tuple[int, ...] = (1, 2, 4, 8)) -> Table:
    from nas_exp.budgets.budget import Budget
    from nas_exp.evaluation.tabular import TabularEvaluator
    from nas_exp.optimizers.random_search import RandomSearch
    from nas_exp.parallel import ParallelSettings, evaluation_pool
    from nas_exp.runner import run_search
    from nas_exp.search_spaces.nb201 import NB201Space

    space = NB201Space()
    evaluator = SleepingEvaluator(TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid",
                                                   root=os.environ["NAS_EXP_DATA"]), seconds)
    table = Table(title=f"one run: random x {evaluations} evaluations of {seconds * 1000:.0f} ms each, "
                        f"parallel.backend=threads, load average {os.getloadavg()[0]:.1f}")
    for column in ("n_workers", "wall (s)", "speed-up vs 1"):
        table.add_column(column, justify="right")
    base = None
    for n in workers:
        with evaluation_pool(ParallelSettings(n_workers=n)) as evaluate_many:
            started = time.perf_counter()
            run_search(space, RandomSearch(space.configspace, seed=0), evaluator, Budget(max_evaluations=evaluations),
                       0, batch_size=n, evaluate_many=evaluate_many)
            wall = time.perf_counter() - started
        base = base or wall
        table.add_row(str(n), f"{wall:.2f}", f"{base / wall:.1f}x")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", default="smac")
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib worker processes")
    parser.add_argument("--launchers", nargs="+", default=["basic", "joblib"])
    parser.add_argument("--repeat", type=int, default=1, help="best of this many sweeps per launcher")
    parser.add_argument("--eval-seconds", type=float, default=0.05, help="sleep per evaluation, second table")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

    store = NB201Benchmark()  # $NAS_EXP_DATA, else the default store: built once, outside the timings
    os.environ["NAS_EXP_DATA"] = str(store.root)  # the sweeps' jobs read the same one
    with tempfile.TemporaryDirectory(prefix="bench_launchers_") as tmp:
        timings = [time_sweep(launcher, args, Path(tmp)) for launcher in args.launchers]
    base = timings[0]
    table = Table(title=f"{args.seeds}-seed sweep, {args.optimizer} x {args.evaluations} evaluations, "
                        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for column in ("launcher", "wall (s)", f"ratio vs {base.launcher}", "runs complete",
                   f"trajectories = {base.launcher}'s"):
        table.add_column(column, justify="left" if column == "launcher" else "right")
    for timing in timings:
        label = timing.launcher + (f" (n_jobs={args.n_jobs})" if timing.launcher == "joblib" else "")
        table.add_row(label, f"{timing.wall:.1f}", f"{timing.wall / base.wall:.2f}",
                      f"{timing.complete}/{args.seeds}", "yes" if timing.trajectories == base.trajectories else "NO")
    console.print(table)
    console.print(bench_workers(args.eval_seconds))


if __name__ == "__main__":
    main()
