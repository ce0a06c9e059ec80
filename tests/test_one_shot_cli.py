"""One-shot NAS end to end: `run.py optimizer=darts evaluation=train dataset=digits` with a tiny supernet writes a
trajectory row per search epoch and a result.json with the black-box runs' keys plus the rank correlation; a
one-shot optimizer with evaluation=tabular stops in one line."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from nas_exp.analysis.one_shot_curves import search_curves
from nas_exp.analysis.report import make_report
from nas_exp.analysis.sweep import load_runs
from nas_exp.one_shot.trajectory import ONE_SHOT_COLUMNS, read_one_shot_trajectory
from nas_exp.search_spaces.nb201 import Arch

TINY = ["evaluation=train", "dataset=digits", "evaluation.device=cpu", "optimizer.epochs=3", "optimizer.C=4",
        "optimizer.N=1", "optimizer.batch_size=32", "optimizer.steps_per_epoch=2", "optimizer.n_rank_cells=6",
        "optimizer.eval_batch_size=128"]


@pytest.mark.slow
def test_darts_run_writes_trajectory_and_result(tmp_path, store_root, bench, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a net this small only loses from threads on a busy machine
    run_dir = tmp_path / "run"
    done = run_cli(["optimizer=darts", *TINY, f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    rows = read_one_shot_trajectory(run_dir / "trajectory.csv")
    assert (run_dir / "trajectory.csv").read_text().splitlines()[0].split(",") == list(ONE_SHOT_COLUMNS)
    assert [r.epoch for r in rows] == [1, 2, 3]
    assert [r.wall_time for r in rows] == sorted(r.wall_time for r in rows)
    for row in rows:
        arch = Arch.from_str(row.arch)
        assert row.table_valid_acc == pytest.approx(bench.query(arch, "cifar10-valid").get("valid_acc"))
        assert 0.0 <= row.oneshot_valid_acc <= 100.0 and row.train_loss > 0 and row.hessian_eigenvalue is None

    result = json.loads((run_dir / "result.json").read_text())
    for key in ("optimizer", "incumbent", "n_evaluations", "n_repeats", "simulated_time", "wall_time",
                "stop_reason", "evaluation", "note", "config", "versions", "rank_correlation"):
        assert key in result
    assert result["optimizer"] == "darts" and result["n_evaluations"] == 3 and result["simulated_time"] == 0.0
    assert result["incumbent"]["arch"] == rows[-1].arch
    assert result["incumbent"]["valid_acc"] == pytest.approx(rows[-1].table_valid_acc)
    assert result["incumbent"]["test_acc"] is None  # the shipped table has no test accuracies
    assert result["stop_reason"] == "all 3 search epochs done"
    final = Arch.from_str(rows[-1].arch)
    assert result["one_shot"]["final_cell_table"] == {
        dataset: {"valid_acc": bench.query(final, dataset).get("valid_acc"), "test_acc": bench.query(final, dataset).get("test_acc")}
        for dataset in ("cifar10-valid", "cifar100", "ImageNet16-120")}
    rank = result["rank_correlation"]
    assert rank["n_cells"] == 6 and len(rank["cells"]) == 6 and rank["table_dataset"] == "cifar10-valid"
    assert -1.0 <= rank["kendall_tau"] <= 1.0 and -1.0 <= rank["spearman_rho"] <= 1.0
    assert result["config"]["optimizer"]["kind"] == "one_shot" and result["config"]["optimizer"]["C"] == 4
    assert "cifar10-valid" in result["note"]


@pytest.mark.slow
def test_one_shot_optimizer_refuses_the_tabular_evaluation(tmp_path, store_root):
    run_dir = tmp_path / "run"
    done = run_cli(["optimizer=gdas", "evaluation=tabular", f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert done.returncode == 2
    assert "optimizer gdas trains networks itself" in done.stderr and "evaluation=train" in done.stderr
    assert not run_dir.exists()


@pytest.mark.slow
def test_a_one_shot_sweep_gets_search_curves_in_the_report(tmp_path, store_root, bench, monkeypatch):
    """`run.py -m optimizer=darts,gdas seed=0,1` and then the analysis: one figure per searched dataset whose
    curves are the seeds' mean table accuracy of the discretized cell per search epoch."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # keys only the swept options have are set with ++ (the default optimizer, smac, lacks them)
    tiny = [f"++{arg}" if arg.startswith("optimizer.") else arg for arg in TINY]
    done = run_cli(["-m", "optimizer=darts,gdas", "seed=0,1", *tiny, "++optimizer.n_rank_cells=0"], tmp_path,
                   store_root)
    assert done.returncode == 0, done.stderr
    (sweep,) = list(tmp_path.glob("outputs/multirun/*/*"))
    report = make_report(sweep, tmp_path / "figures", store_root)
    assert tmp_path / "figures" / "one_shot_digits.png" in report.written
    assert sorted(report.runs.optimizer) == ["darts", "darts", "gdas", "gdas"]
    curves = {curve.optimizer: curve for curve in search_curves(load_runs(sweep))}
    for name in ("darts", "gdas"):
        seeds = [read_one_shot_trajectory(path) for path in sorted(sweep.glob(f"*_{name}_*/trajectory.csv"))]
        assert len(seeds) == 2 and curves[name].n_seeds == 2 and list(curves[name].epochs) == [1, 2, 3]
        expected = [sum(rows[e].table_valid_acc for rows in seeds) / 2 for e in range(3)]
        assert curves[name].mean == pytest.approx(expected)
