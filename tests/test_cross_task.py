"""Cross-task comparison (nas_exp/analysis/cross_task.py): the computations on hand-checkable frames, and one
end-to-end report over real tiny NB201 runs (3 optimizers x 2 datasets x 2 seeds)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from scipy import stats

from nas_exp.analysis.cross_task import (CrossTaskError, aggregate_regret, cliques, ecdf, final_table, friedman,
                                         median_regret, nemenyi_cd, normalise, ranks_over_time)
from nas_exp.analysis.optimum import Benchmarks
from nas_exp.analysis.report import cross_task_outputs, make_report
from nas_exp.analysis.sweep import load_run, load_runs
from nas_exp.app import run_experiment
from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from conftest import REPO


def curves(rows: list[tuple[str, str, int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task", "optimizer", "seed", "n", "norm_regret"])


def test_ranks_average_over_tasks_with_ties_sharing_the_mean_rank():
    frame = curves([
        # task A, n=1: a 0.1, b 0.1 (tie: 1.5 each), c 0.3 -> 3;   n=2: a 0, b 0.2, c 0.1
        ("A", "a", 0, 1, 0.1), ("A", "b", 0, 1, 0.1), ("A", "c", 0, 1, 0.3),
        ("A", "a", 0, 2, 0.0), ("A", "b", 0, 2, 0.2), ("A", "c", 0, 2, 0.1),
        # task B, two seeds (seed means: a 0.5, b 0.2, c 0.2 at both n)
        *[("B", opt, seed, n, value) for n in (1, 2) for opt, seed, value in
          [("a", 0, 0.4), ("a", 1, 0.6), ("b", 0, 0.1), ("b", 1, 0.3), ("c", 0, 0.2), ("c", 1, 0.2)]],
    ])
    ranks = ranks_over_time(frame)
    assert ranks.loc[1].to_dict() == pytest.approx({"a": (1.5 + 3) / 2, "b": (1.5 + 1.5) / 2, "c": (3 + 1.5) / 2})
    assert ranks.loc[2].to_dict() == pytest.approx({"a": (1 + 3) / 2, "b": (3 + 1.5) / 2, "c": (2 + 1.5) / 2})


def test_normalise_divides_by_each_tasks_scale_and_refuses_a_zero_scale():
    frame = pd.DataFrame({"task": ["A", "A", "B"], "regret": [2.0, 0.0, 3.0]})
    out = normalise(frame, pd.Series({"A": 4.0, "B": 1.5}))
    assert out["norm_regret"].tolist() == [0.5, 0.0, 2.0]
    with pytest.raises(CrossTaskError, match="task B"):
        normalise(frame, pd.Series({"A": 4.0, "B": 0.0}))
    with pytest.raises(CrossTaskError, match="no normalisation scale for task"):
        normalise(frame, pd.Series({"A": 4.0}))


def test_median_regret_in_both_directions_ignoring_missing_rows():
    values = np.array([90.0, 80.0, np.nan, 70.0, 60.0])  # median 75
    assert median_regret(values, 91.0, maximize=True) == pytest.approx(16.0)
    assert median_regret(values, 55.0, maximize=False) == pytest.approx(20.0)


def test_ecdf_counts_values_at_or_below_each_point():
    x, y = ecdf(np.array([0.3, 0.0, 0.1, 0.1, np.nan]))
    assert x.tolist() == [0.0, 0.1, 0.1, 0.3] and y.tolist() == [0.25, 0.5, 0.75, 1.0]
    with pytest.raises(CrossTaskError):
        ecdf(np.array([np.nan]))


def test_aggregate_means_over_tasks_per_seed_then_standard_error_over_seeds():
    frame = curves([("A", "a", 0, 1, 0.2), ("B", "a", 0, 1, 0.4), ("A", "a", 1, 1, 0.0), ("B", "a", 1, 1, 0.2)])
    row = aggregate_regret(frame).iloc[0]
    per_seed = np.array([0.3, 0.1])
    assert row["mean"] == pytest.approx(0.2) and row["n_seeds"] == 2
    assert row["stderr"] == pytest.approx(per_seed.std(ddof=1) / np.sqrt(2))
    table = final_table(frame)
    assert table.loc[("a", "A"), "mean"] == pytest.approx(0.1)
    assert table.loc[("a", "all tasks"), "mean"] == pytest.approx(0.2)


def test_friedman_equals_scipy_with_and_without_ties():
    rng = np.random.default_rng(0)
    for matrix in (rng.random((9, 4)), np.array([[1, 1, 2], [3, 1, 2], [0, 0, 0.5], [2, 1, 1], [4, 5, 6]])):
        frame = pd.DataFrame(matrix, columns=[f"o{i}" for i in range(matrix.shape[1])])
        ours = friedman(frame)
        theirs = stats.friedmanchisquare(*matrix.T)
        assert ours.statistic == pytest.approx(theirs.statistic) and ours.pvalue == pytest.approx(theirs.pvalue)
    # mean ranks of the tied matrix (rows ranked 1.5 1.5 3 / 3 1 2 / 1.5 1.5 3 / 3 1.5 1.5 / 1 2 3), and
    # Nemenyi's CD against Demsar (2006): q_0.05 = 2.569 for k = 4
    assert friedman(frame).mean_ranks.to_dict() == pytest.approx({"o0": 10 / 5, "o1": 7.5 / 5, "o2": 12.5 / 5})
    assert nemenyi_cd(4, 9) == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 9)), abs=1e-3)
    with pytest.raises(CrossTaskError, match=">= 3 optimizers"):
        friedman(frame[["o0", "o1"]])


def test_cliques_join_ranks_within_the_critical_difference():
    ranks = pd.Series({"a": 1.4, "b": 2.4, "c": 2.6, "d": 3.6})
    assert cliques(ranks, 1.5) == [["a", "b", "c"], ["b", "c", "d"]]
    assert cliques(ranks, 0.1) == []


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


OPTIMIZERS = ("random", "rea", "local_search")
DATASETS = ("cifar10-valid", "cifar100")


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, store_root):
    folder = tmp_path_factory.mktemp("cross_task_sweep")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NAS_EXP_DATA", str(store_root))
        for optimizer in OPTIMIZERS:
            for dataset in DATASETS:
                for seed in (0, 1):
                    evals = 12 if (optimizer, dataset, seed) == ("rea", "cifar100", 1) else 15  # a shorter run
                    run_experiment(compose_run([f"optimizer={optimizer}", f"dataset={dataset}", f"seed={seed}",
                                                f"budget.max_evaluations={evals}", "progress=false"]),
                                   folder / "sweep" / f"{optimizer}_{dataset}_{seed}")
    return folder / "sweep"


def test_report_writes_cross_task_outputs_consistent_with_the_runs(tiny_sweep, store_root, tmp_path):
    # make_report's cross-task part (the per-dataset outputs are test_analysis.py's)
    result, written, notes = cross_task_outputs(load_runs(tiny_sweep), Benchmarks(store_root), tmp_path)
    names = {path.name for path in written}
    for stem in ("cross_task_rank", "cross_task_regret", "cross_task_ecdf", "cross_task_cd"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert {"report.tex", "cross_task_final.md", "cross_task_ranks.md"} <= names
    assert result.tasks == ["nb201/cifar10-valid", "nb201/cifar100"] and result.selection.n_common == 12
    assert result.n_seeds == (2, 2) and set(result.scale_kinds.values()) == {"table median"}
    assert any("1..12" in note for note in notes)
    bench = NB201Benchmark(root=store_root)
    for run_dir in tiny_sweep.iterdir():
        record = json.loads((run_dir / "result.json").read_text())
        trajectory = pd.read_csv(run_dir / "trajectory.csv")
        optimum = record["metrics"]["optimum"]["value"]
        dataset = record["config"]["dataset"]["name"]
        scale = optimum - float(np.nanmedian(bench.metric_array(dataset, "valid_acc")))
        expected = (optimum - trajectory["incumbent_valid_acc"].iloc[11]) / scale  # after 12 evaluations
        run = load_run(run_dir)
        got = result.curves[(result.curves["task"] == f"nb201/{dataset}") & (result.curves["n"] == 12)
                            & (result.curves["optimizer"] == run.info.optimizer)
                            & (result.curves["seed"] == run.info.seed)]["norm_regret"]
        assert got.tolist() == pytest.approx([expected])
    assert result.scales["nb201/cifar100"] == pytest.approx(73.49 - float(np.nanmedian(
        bench.metric_array("cifar100", "valid_acc"))), abs=0.01)
    tex = (tmp_path / "report.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert "cross_task_cd.pdf" in tex and "Friedman" in tex and "median" in tex


def test_a_single_task_skips_the_cross_task_outputs_with_one_note(tiny_sweep, store_root, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    for run_dir in tiny_sweep.glob("*_cifar10-valid_*"):
        shutil.copytree(run_dir, one / run_dir.name)
    report = make_report(one, tmp_path / "out", root=store_root)
    assert report.cross_task is None and report.notes == [
        "cross-task outputs skipped: 1 tabular task(s) in the sweep (need >= 2)"]
    assert not list((tmp_path / "out").glob("cross_task_*"))
