"""Launcher speed: the same 4-seed sweep with Hydra's basic launcher (one job after another, one process) and with
joblib (local worker processes), optionally submitit_local; wall time, peak memory (all the sweep's processes
together) and ratios against basic, and whether every launcher wrote the same trajectories. A second table: the
fixed cost per job of a basic sweep of short jobs, with the per-process sweep caches (the table cache in
nas_exp/data/store.py, versions, top-level keys) off (NAS_EXP_SWEEP_CACHE=0) and on, alternating in the same run:
(sweep wall time - the jobs' own search times) / jobs, and the same for a further job against a 1-job sweep.
A third table: one run with parallel.n_workers threads, each evaluation a table lookup plus --eval-seconds of
sleep (a stand-in for training).

Run: `python benchmarks/bench_launchers.py [--optimizer smac --evaluations 60 --seeds 4 --n-jobs 2
      --launchers basic joblib submitit_local --repeat 1 --eval-seconds 0.05
      --fixed-jobs 20 --fixed-evaluations 10 --fixed-repeat 2 --fixed-experiment nb201_paper --skip launchers]`
(``--fixed-experiment nb201_paper --fixed-jobs 5`` sweeps the NB201 paper experiment over 5 seeds: 20 jobs.)
The load average is printed with each table: on a shared machine, other work skews the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
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
    peak_rss: float  # MiB, the most the sweep's processes held at once (sampled), best of the repeats
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


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sweep(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``command``; its wall time (s) and the peak of the summed resident memory of it and its child
    processes (MiB, sampled every 20 ms with psutil; nan without psutil)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = float("nan") if psutil is None else 0.0
    if psutil is not None:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            total = 0
            try:
                for proc in (root, *root.children(recursive=True)):
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total / 2**20)
            time.sleep(0.02)
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        console.print(f"[red]{' '.join(command[2:])} failed[/]:\n{stderr[-2000:]}")
        raise SystemExit(1)
    return elapsed, peak


def time_sweep(launcher: str, args: argparse.Namespace, workdir: Path) -> SweepTiming:
    best, best_rss = float("inf"), float("inf")
    sweep_dir = workdir
    for attempt in range(args.repeat):
        sweep_dir = workdir / f"{launcher}-{attempt}"
        command = [sys.executable, str(REPO / "run.py"),
                   *sweep_args(launcher, args.optimizer, args.evaluations, args.seeds, args.n_jobs, sweep_dir)]
        elapsed, rss = run_sweep(command, workdir)
        best, best_rss = min(best, elapsed), min(best_rss, rss)
    complete = sum(1 for _ in sweep_dir.glob("*/result.json"))
    return SweepTiming(launcher, best, best_rss, complete, read_trajectories(sweep_dir))


@dataclass(frozen=True)
class FixedCost:
    cached: bool
    jobs: int
    wall: float  # seconds, the whole sweep (one process: start-up, every job, the closing table)
    cpu: float  # CPU seconds of the sweep's process (less skewed by other work than wall time)
    searches: float  # seconds, the sum of the jobs' own wall_time (result.json): their searches
    trajectories: tuple[tuple[tuple[str, ...], ...], ...]

    @property
    def per_job(self) -> float:
        return (self.wall - self.searches) / self.jobs


def fixed_cost_args(args: argparse.Namespace, seeds: int, sweep_dir: Path) -> list[str]:
    if args.fixed_experiment:
        return [f"+experiment={args.fixed_experiment}", "progress=false", f"hydra.sweep.dir={sweep_dir}", "-m",
                f"seed=range({seeds})"]
    return [f"optimizer={args.fixed_optimizer}", f"budget.max_evaluations={args.fixed_evaluations}",
            "progress=false", f"hydra.sweep.dir={sweep_dir}", "-m", f"seed=range({seeds})"]


def time_fixed_cost(cached: bool, seeds: int, args: argparse.Namespace, sweep_dir: Path) -> FixedCost:
    env = {**os.environ, "NAS_EXP_SWEEP_CACHE": "1" if cached else "0"}
    command = [sys.executable, str(REPO / "run.py"), *fixed_cost_args(args, seeds, sweep_dir)]
    cpu = children_cpu()
    wall, _ = run_sweep(command, sweep_dir.parent, env)
    cpu = children_cpu() - cpu
    results = [json.loads(path.read_text()) for path in sweep_dir.glob("*/result.json")]
    return FixedCost(cached, len(results), wall, cpu, sum(r["wall_time"] for r in results),
                     read_trajectories(sweep_dir))


def bench_fixed_cost(args: argparse.Namespace, workdir: Path) -> Table:
    """Sweeps of ``--fixed-jobs`` seeds and of 1 seed, caches off and on, alternating, ``--fixed-repeat`` times."""
    found: dict[tuple[bool, int], list[FixedCost]] = {}
    for attempt in range(args.fixed_repeat):
        for seeds in (1, args.fixed_jobs):
            for cached in (False, True):
                sweep_dir = workdir / f"fixed-{int(cached)}-{seeds}-{attempt}"
                found.setdefault((cached, seeds), []).append(time_fixed_cost(cached, seeds, args, sweep_dir))
    best = {key: min(runs, key=lambda run: run.wall) for key, runs in found.items()}
    least_cpu = {key: min(run.cpu for run in runs) for key, runs in found.items()}
    what = (f"+experiment={args.fixed_experiment}" if args.fixed_experiment
            else f"{args.fixed_optimizer} x {args.fixed_evaluations} evaluations")
    table = Table(title=f"fixed cost per job, basic launcher, {what}; best of {args.fixed_repeat} alternating "
                        f"rounds (wall and CPU each), "
                        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for column in ("sweep caches", "jobs", "sweep wall (s)", "searches (s)", "fixed per job (s)",
                   "a further job (s)", "ratio vs off", "CPU (s)", "CPU per further job (s)", "CPU ratio vs off",
                   "trajectories = off's"):
        table.add_column(column, justify="left" if column == "sweep caches" else "right")
    off = best[(False, args.fixed_jobs)]
    off_cpu = (least_cpu[(False, args.fixed_jobs)] - least_cpu[(False, 1)]) / max(off.jobs - best[(False, 1)].jobs, 1)
    for cached in (False, True):
        many, one = best[(cached, args.fixed_jobs)], best[(cached, 1)]
        further = ((many.wall - many.searches) - (one.wall - one.searches)) / max(many.jobs - one.jobs, 1)
        cpu_further = ((least_cpu[(cached, args.fixed_jobs)] - least_cpu[(cached, 1)])
                       / max(many.jobs - one.jobs, 1))
        same = all(run.trajectories == off.trajectories for run in found[(cached, args.fixed_jobs)])
        table.add_row("on" if cached else "off (NAS_EXP_SWEEP_CACHE=0)", str(many.jobs), f"{many.wall:.1f}",
                      f"{many.searches:.1f}", f"{many.per_job:.3f}", f"{further:.3f}",
                      f"{many.per_job / off.per_job:.2f}", f"{least_cpu[(cached, args.fixed_jobs)]:.1f}",
                      f"{cpu_further:.3f}", f"{cpu_further / off_cpu:.2f}", "yes" if same else "NO")
    return table


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
    parser.add_argument("--eval-seconds", type=float, default=0.05, help="sleep per evaluation, third table")
    parser.add_argument("--fixed-jobs", type=int, default=20, help="seeds of the fixed-cost sweep")
    parser.add_argument("--fixed-optimizer", default="random")
    parser.add_argument("--fixed-evaluations", type=int, default=10)
    parser.add_argument("--fixed-experiment", default=None, help="e.g. nb201_paper: sweep that experiment instead")
    parser.add_argument("--fixed-repeat", type=int, default=2, help="alternating off/on rounds, best of them")
    parser.add_argument("--skip", nargs="*", default=[], choices=["launchers", "fixed", "workers"])
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

    store = NB201Benchmark()  # $NAS_EXP_DATA, else the default store: built once, outside the timings
    os.environ["NAS_EXP_DATA"] = str(store.root)  # the sweeps' jobs read the same one
    with tempfile.TemporaryDirectory(prefix="bench_launchers_") as tmp:
        if "launchers" not in args.skip:
            console.print(bench_launcher_table(args, Path(tmp)))
        if "fixed" not in args.skip:
            console.print(bench_fixed_cost(args, Path(tmp)))
    if "workers" not in args.skip:
        console.print(bench_workers(args.eval_seconds))


def bench_launcher_table(args: argparse.Namespace, workdir: Path) -> Table:
    timings = [time_sweep(launcher, args, workdir) for launcher in args.launchers]
    base = timings[0]
    table = Table(title=f"{args.seeds}-seed sweep, {args.optimizer} x {args.evaluations} evaluations, "
                        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for column in ("launcher", "wall (s)", f"ratio vs {base.launcher}", "peak memory (MiB)",
                   f"memory vs {base.launcher}", "runs complete", f"trajectories = {base.launcher}'s"):
        table.add_column(column, justify="left" if column == "launcher" else "right")
    for timing in timings:
        label = timing.launcher + (f" (n_jobs={args.n_jobs})" if timing.launcher == "joblib" else "")
        table.add_row(label, f"{timing.wall:.1f}", f"{timing.wall / base.wall:.2f}", f"{timing.peak_rss:.0f}",
                      f"{timing.peak_rss / base.peak_rss:.2f}", f"{timing.complete}/{args.seeds}",
                      "yes" if timing.trajectories == base.trajectories else "NO")
    return table


if __name__ == "__main__":
    main()
