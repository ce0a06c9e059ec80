"""Scaling out: Hydra launchers (joblib, submitit local/SLURM), failure isolation in a sweep, parallel evaluations
inside one run."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO, run_cli
from nas_exp.benchmarks.nb201_tabular import NB201_METRICS, NB201_RECIPE
from nas_exp.app import run_experiment
from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation
from nas_exp.failures import JobFailure, job_ranges, summary_lines
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.random_search import RandomSearch
from nas_exp.parallel import DaskEvaluation, ParallelSettings, evaluation_pool
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import NB201Space

TESTS = Path(__file__).resolve().parent


def rows_without_wall_time(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(handle)]


def sweep_jobs(root: Path) -> list[Path]:
    sweeps = list((root / "outputs" / "multirun").glob("*/*"))
    assert len(sweeps) == 1, sweeps
    return sorted((p for p in sweeps[0].iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: int(p.name.split("_")[0]))


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


# --- launchers -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_joblib_sweep_of_four_seeds_writes_four_complete_runs_and_isolates_a_bad_job(tmp_path, store_root,
                                                                                     monkeypatch):
    done = run_cli(["optimizer=random", "budget.max_evaluations=20", "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2", "-m", "seed=0,1,2,3,abc"], tmp_path, store_root)
    jobs = sweep_jobs(tmp_path)
    assert [p.name for p in jobs] == [f"{i}_random_cifar10-valid_seed{s}" for i, s in enumerate([0, 1, 2, 3, "abc"])]
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    for seed, job in enumerate(jobs[:4]):
        result = json.loads((job / "result.json").read_text())
        assert result["n_evaluations"] == 20 and result["config"]["seed"] == seed
        # the same trajectory as the same run made in this process
        alone = tmp_path / f"alone{seed}"
        run_experiment(compose_run(["optimizer=random", "budget.max_evaluations=20", f"seed={seed}",
                                    "progress=false"]), alone)
        assert rows_without_wall_time(job / "trajectory.csv") == rows_without_wall_time(alone / "trajectory.csv")
    # the job with a bad seed failed alone, in a joblib worker, and the sweep says so
    failure = json.loads((jobs[4] / "failed.json").read_text())
    assert failure["user_error"] and "seed must be a non-negative int, got 'abc'" in failure["message"]
    assert done.returncode == 1 and "error: 1 of 5 jobs failed" in done.stderr
    # the sweep's table, printed once in the launching process, and runs.csv beside the jobs
    assert done.stdout.count("sweep of 5 jobs: 4 finished, 1 failed") == 1
    assert [line.split()[:3] for line in done.stdout.splitlines() if line.startswith("  4 ")] == \
        [["4", "seed=abc", "failed"]]
    table = pd.read_csv(jobs[0].parent / "runs.csv")
    assert table["status"].tolist() == ["finished"] * 4 + ["failed"]
    assert table["seed"].astype(str).tolist() == ["0", "1", "2", "3", "abc"]
    assert table["error"].iloc[4].startswith("ConfigError: seed must be a non-negative int")


@pytest.mark.slow
def test_submitit_local_runs_each_job_in_its_own_process(tmp_path, store_root):
    done = run_cli(["optimizer=random", "budget.max_evaluations=10", "hydra/launcher=submitit_local", "-m",
                    "seed=0,1"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    jobs = sweep_jobs(tmp_path)
    assert len(jobs) == 2 and all(json.loads((j / "result.json").read_text())["n_evaluations"] == 10 for j in jobs)
    logs = list(tmp_path.glob("outputs/multirun/*/*/.submitit/*/*_log.out"))
    assert len(logs) == 2  # one submitit job (its own interpreter) per run
    # the jobs print into their logs; the launching process ends with their results
    lines = done.stdout[done.stdout.index("sweep of 2 jobs: 2 finished"):].splitlines()
    for job, line in zip(jobs, lines[3:5]):
        value = json.loads((job / "result.json").read_text())["incumbent"]["valid_acc"]
        assert line.split()[2:4] == ["finished", f"{value:.4g}"] and line.split()[-1] == job.name


@pytest.mark.slow
def test_slurm_preset_writes_the_sbatch_script_with_its_settings(tmp_path, store_root, monkeypatch):
    """No SLURM here: a fake sbatch keeps the script submitit hands it and refuses the job."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/sh\ncp "$1" "$FAKE_SBATCH_COPY"\necho "sbatch: fake" >&2\nexit 1\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    script = tmp_path / "job.sh"
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.setenv("FAKE_SBATCH_COPY", str(script))
    done = run_cli(["optimizer=random", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                    "hydra.launcher.gpus_per_task=1", "hydra.launcher.timeout_min=240", "-m", "seed=0,1,2"],
                   tmp_path, store_root)
    assert done.returncode != 0 and "sbatch: fake" in done.stderr
    text = script.read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=1", "#SBATCH --time=240",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --mem=8GB", "#SBATCH --array=0-2%3",
                 "export PYTHONHASHSEED=0"):
        assert line in text, text


# --- failure isolation -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_crashing_job_is_recorded_and_the_sweep_goes_on(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # tests/fake_evaluators.py
    done = run_cli(["--config-dir", str(TESTS / "conf"), "optimizer=random",
                    "evaluation=slow", "budget.max_evaluations=8", "-m", "evaluation.crash_at=null,3",
                    "seed=0,1"], tmp_path, store_root)
    assert done.returncode == 1
    jobs = sweep_jobs(tmp_path)
    assert len(jobs) == 4
    crashed = [job for job in jobs if (job / "failed.json").exists()]
    kept = [job for job in jobs if (job / "result.json").exists()]
    assert [j.name[0] for j in crashed] == ["2", "3"] and [j.name[0] for j in kept] == ["0", "1"]
    for job in kept:
        assert len(rows_without_wall_time(job / "trajectory.csv")) == 8
    for job in crashed:
        failure = json.loads((job / "failed.json").read_text())
        assert failure["error_type"] == "SimulatedCrash" and not failure["user_error"]
        assert "Traceback" in failure["traceback"] and "evaluation.crash_at=3" in failure["overrides"]
        assert len(rows_without_wall_time(job / "trajectory.csv")) == 2  # what it did before crashing stays
    summary = done.stderr[done.stderr.index("error: 2 of 4 jobs failed"):]
    # the two jobs failed the same way: one line names both
    assert "2 jobs #2-3: SimulatedCrash: simulated crash in evaluation 3" in summary


def test_the_failure_summary_puts_jobs_that_failed_the_same_way_on_one_line():
    def failure(num: int, message: str) -> JobFailure:
        return JobFailure(num, f"/sweep/{num}_random_cifar10_seed{num}", [f"seed={num}"], "ValueError", message,
                          True, "")

    missing = "cifar10: CIFAR-10 files not found in /data (data_batch_1..5, test_batch)\nsecond line"
    failures = [failure(n, missing) for n in (0, 1, 2, 5)] + [failure(3, "seed must be >= 0, got -1")]
    lines = summary_lines(failures, n_jobs=6)
    assert lines == [
        "error: 5 of 6 jobs failed (traceback in each job's failed.json):",
        "  4 jobs #0-2, #5: ValueError: cifar10: CIFAR-10 files not found in /data (data_batch_1..5, test_batch)"
        "  [/sweep]",
        "  #3 seed=3: ValueError: seed must be >= 0, got -1  [/sweep/3_random_cifar10_seed3]",
    ]
    assert job_ranges([7, 3, 4, 5, 9]) == "#3-5, #7, #9" and summary_lines([], 4) == []


# --- parallel evaluations inside one run -----------------------------------------------------------------------

class SleepyEvaluator:
    """Deterministic results; each evaluation sleeps a random while, so concurrent ones finish out of order."""

    description, missing_note, max_epochs = "sleepy", "", 200
    ignores_budgets = False
    search_metric, report_metric = NB201_METRICS["valid_acc"], NB201_METRICS["test_acc"]

    def __init__(self, seconds: float = 0.03) -> None:
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()
        self._jitter = np.random.default_rng(12345)

    def evaluate(self, arch, rng, epochs=None, hyperparameters=None) -> Evaluation:
        with self._lock:
            self.calls += 1
            pause = self.seconds * self._jitter.uniform(0.2, 1.8)
        time.sleep(pause)
        return Evaluation(value=float(arch.index % 89) + float(rng.random()), test=None,
                          cost=100.0 + arch.index % 7)


def search(evaluator, batch_size=1, evaluate_many=None, budget=None, optimizer=None, seed=3):
    space = NB201Space()
    optimizer = optimizer or RandomSearch(space.configspace, seed=seed)
    extra = {} if evaluate_many is None else {"evaluate_many": evaluate_many}
    return run_search(space, optimizer, evaluator, budget or Budget(max_evaluations=24), seed,
                      batch_size=batch_size, **extra)


def without_wall_time(result) -> list[tuple]:
    return [(r.n, r.arch, r.value, r.cost, r.simulated_time, r.incumbent_arch, r.repeat) for r in result.rows]


def test_parallel_batches_are_deterministic_and_run_concurrently():
    serial_evaluator = SleepyEvaluator()
    started = time.perf_counter()
    serial = search(serial_evaluator, batch_size=4)  # batches of 4, evaluated one after another
    serial_time = time.perf_counter() - started
    with evaluation_pool(ParallelSettings(n_workers=4)) as evaluate_many:
        started = time.perf_counter()
        first = search(SleepyEvaluator(), batch_size=4, evaluate_many=evaluate_many)
        parallel_time = time.perf_counter() - started
        second = search(SleepyEvaluator(), batch_size=4, evaluate_many=evaluate_many)
    assert without_wall_time(first) == without_wall_time(second) == without_wall_time(serial)
    assert len(first.rows) == 24 and serial_evaluator.calls == 24
    assert parallel_time < 0.6 * serial_time, (parallel_time, serial_time)


def test_dask_workers_give_the_threads_trajectory():
    from dask.distributed import Client, LocalCluster

    with evaluation_pool(ParallelSettings(n_workers=3)) as evaluate_many:
        threads = search(SleepyEvaluator(0.005), batch_size=3, evaluate_many=evaluate_many)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = search(SleepyEvaluator(0.005), batch_size=3, evaluate_many=DaskEvaluation(client))
    assert without_wall_time(dask) == without_wall_time(threads)


class TwiceEach(Optimizer):
    """Proposes every configuration twice in a row (a repeat inside one batch)."""

    def __init__(self, space: NB201Space) -> None:
        super().__init__(space.configspace, seed=0)
        self.random = RandomSearch(space.configspace, seed=0)
        self.last: Trial | None = None
        self.told = 0

    def ask(self) -> Trial:
        if self.last is None:
            self.last = self.random.ask()
            return self.last
        trial, self.last = self.last, None
        return Trial(config=trial.config)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        self.told += 1


def test_a_repeat_inside_a_batch_is_evaluated_once():
    evaluator = SleepyEvaluator(0.0)
    optimizer = TwiceEach(NB201Space())
    result = search(evaluator, batch_size=4, optimizer=optimizer, budget=Budget(max_evaluations=10))
    assert [r.repeat for r in result.rows] == [False, True] * 5
    assert evaluator.calls == 5 and optimizer.told == 10


def test_batches_never_overrun_the_time_budget():
    result = search(SleepyEvaluator(0.0), batch_size=4, budget=Budget(max_simulated_seconds=1000))
    assert result.rows[-1].simulated_time <= 1000 and "overrun" in result.stop_reason
    assert 9 <= len(result.rows) <= 10  # costs are 100..106


def test_parallel_settings_reach_the_run(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    summary = run_experiment(compose_run(["optimizer=random", "budget.max_evaluations=10", "parallel.n_workers=3",
                                          "progress=false"]), tmp_path / "run")
    assert summary["n_evaluations"] == 10 and summary["config"]["parallel"]["n_workers"] == 3
