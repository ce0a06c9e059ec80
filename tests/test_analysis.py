import csv
import json

import pytest

from conftest import run_cli
from nas_exp.analysis.__main__ import main as analysis_main
from nas_exp.analysis.sweep import load_sweep, results_table


@pytest.mark.slow
def test_analysis_of_a_real_small_sweep(tmp_path, store_root):
    done = run_cli(["-m", "optimizer=random,smac", "budget.max_evaluations=25", "seed=0,1"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    sweep = next((tmp_path / "outputs" / "multirun").glob("*/*"))
    runs, trajectories = load_sweep(sweep)
    assert len(runs) == 4 and set(runs.optimizer) == {"RandomSearch", "SMACOptimizer"}
    table = results_table(runs)
    for optimizer in ("RandomSearch", "SMACOptimizer"):
        finals = []
        for run_dir in runs[runs.optimizer == optimizer].run_dir:
            with open(f"{run_dir}/trajectory.csv") as handle:
                finals.append(float(list(csv.DictReader(handle))[-1]["incumbent_valid_acc"]))
            assert json.loads(open(f"{run_dir}/result.json").read())["n_evaluations"] == 25
        assert table.loc[("cifar10-valid", optimizer), ("valid_acc", "mean")] == pytest.approx(sum(finals) / 2)
        assert table.loc[("cifar10-valid", optimizer), ("n_seeds", "")] == 2
    out = tmp_path / "figures"
    assert analysis_main([str(sweep), "--out", str(out)]) == 0
    for name in ("anytime_cifar10-valid.png", "anytime_cifar10-valid.pdf", "results.md"):
        assert (out / name).stat().st_size > 0


def test_analysis_of_an_empty_folder_is_one_clear_error(tmp_path, capsys):
    assert analysis_main([str(tmp_path)]) == 2
    assert "no run folders" in capsys.readouterr().err
