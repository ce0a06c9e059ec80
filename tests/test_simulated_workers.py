"""Simulated asynchronous workers on a table (``parallel.simulate_workers``): results told in simulated finish
order, a schedule no worker could not have run, determinism, one worker = the sequential run, clear refusals."""

from __future__ import annotations

import csv
import os

import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO
from nas_exp.app import run_experiment
from nas_exp.budgets.budget import Budget
from nas_exp.errors import UserError
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.regularized_evolution import RegularizedEvolution
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.parallel import ParallelConfigError, parallel_settings
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.simulated_workers import OVER_TIME, run_simulated_workers

SPACE = NB201Space()
DAY = Budget(max_simulated_seconds=86_400)


@pytest.fixture(scope="module")
def evaluator(bench):
    return TabularEvaluator(SPACE, "cifar10-valid", "cifar10-valid", benchmark=bench, budget_as_epochs=False)


def rea(seed: int) -> RegularizedEvolution:
    return RegularizedEvolution(SPACE.configspace, seed=seed)


def plain(rows) -> list[tuple]:
    return [(r.n, r.arch, r.value, r.cost, r.simulated_time, r.incumbent_arch, r.repeat) for r in rows]


def max_busy(rows) -> int:
    """The most trials running at once in the schedule the rows imply (each ran in [finish - cost, finish))."""
    def at(t: float) -> float:  # start = finish - cost is exact only to rounding
        return round(t, 6)

    events = sorted([(at(r.simulated_time - r.cost), 1) for r in rows] + [(at(r.simulated_time), -1) for r in rows])
    busy = most = 0
    for _, step in events:  # at equal times, finishes (-1) come before starts (+1)
        busy += step
        most = max(most, busy)
    return most


def test_one_worker_is_the_sequential_run(evaluator):
    sequential = run_search(SPACE, rea(0), evaluator, DAY, 0)
    simulated = run_simulated_workers(SPACE, rea(0), evaluator, DAY, 0, n_workers=1)
    assert plain(simulated.rows) == plain(sequential.rows) and len(simulated.rows) > 20


def test_eight_workers_keep_eight_busy_in_finish_order_and_repeat_per_seed(evaluator):
    first = run_simulated_workers(SPACE, rea(1), evaluator, DAY, 1, n_workers=8)
    again = run_simulated_workers(SPACE, rea(1), evaluator, DAY, 1, n_workers=8)
    sequential = run_search(SPACE, rea(1), evaluator, DAY, 1)
    assert plain(first.rows) == plain(again.rows)
    times = [r.simulated_time for r in first.rows]
    assert times == sorted(times) and times[-1] <= 86_400 and first.stop_reason == OVER_TIME
    assert max_busy(first.rows) == 8
    # about eight times the evaluations of one worker in the same simulated day
    assert 6 * len(sequential.rows) < len(first.rows) < 9 * len(sequential.rows)
    # the incumbent is the best of what had finished
    best = max(r.value for r in first.rows)
    assert first.rows[-1].incumbent_value == pytest.approx(best)


def test_an_evaluation_budget_counts_every_started_trial(evaluator, tmp_path):
    optimizer = SMACOptimizer(SPACE.configspace, seed=0, output_dir=tmp_path, max_trials=30)
    result = run_simulated_workers(SPACE, optimizer, evaluator, Budget(max_evaluations=30), 0, n_workers=4)
    assert [r.n for r in result.rows] == list(range(1, 31)) and result.stop_reason == "budget exhausted"
    assert max_busy(result.rows) == 4


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=["progress=false", *overrides])


def run(tmp_path, store_root, overrides):
    os.environ["NAS_EXP_DATA"] = str(store_root)
    try:
        return run_experiment(composed(overrides), tmp_path / "run")
    finally:
        os.environ.pop("NAS_EXP_DATA")


def test_a_run_with_simulated_workers_writes_the_simulated_clock(tmp_path, store_root):
    run(tmp_path, store_root, ["optimizer=random", "budget=simulated_1day", "parallel.simulate_workers=4"])
    with open(tmp_path / "run" / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    clock = [float(r["simulated_time"]) for r in rows]
    assert clock == sorted(clock) and clock[-1] <= 86_400
    assert sum(float(r["cost"]) for r in rows) > 3 * 86_400  # four workers trained for most of a day each


@pytest.mark.parametrize("overrides,message", [
    (["parallel.simulate_workers=0"], r"parallel.simulate_workers must be an int >= 1 \(or null\), got 0"),
    (["parallel.simulate_workers=4", "parallel.n_workers=2"], "exclude each other"),
    (["parallel.simulate_workers=2", "search_space=nasbench_graph", "dataset=cora"],
     "needs training times, and .* records none"),
    (["parallel.simulate_workers=2", "evaluation=train", "dataset=digits",
      "evaluation.checkpoint_dir=null"], "in train mode evaluations are real"),
    (["parallel.simulate_workers=2", "resume=true"], "resume=true cannot continue a run with"),
])
def test_what_cannot_be_simulated_is_refused_in_one_line(tmp_path, store_root, overrides, message):
    with pytest.raises(UserError, match=message):
        run(tmp_path, store_root, ["budget.max_evaluations=5", *overrides])


def test_settings_type_checked():
    with pytest.raises(ParallelConfigError, match="got True"):
        parallel_settings({"simulate_workers": True})
