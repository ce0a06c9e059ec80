"""docs/extending.md's promise, run: a new tabular benchmark and its space are new files only (a module with the
space and its recipe, a search_space yaml, a dataset yaml), found through Hydra's search path; nothing in
nas_exp changes. The toy table is synthetic (its values are a known function of the configuration)."""

from __future__ import annotations

import csv
import json
import textwrap

import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO
from nas_exp.app import run_experiment

MODULE = '''
"""A toy benchmark: 3 x 4 configurations, error = (depth - 2)**2 + |width - 32| / 16, 2 seeds."""
import numpy as np

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.data.store import DatasetTable
from nas_exp.search_spaces.grid import GridSpace

PARAMETERS = {"depth": (1, 2, 3), "width": (8, 16, 32, 64)}


class ToySpace(GridSpace):
    name = "toy"
    PARAMETERS = PARAMETERS

    def tabular_benchmark(self, source=None, root=None):
        return TabularBenchmark(TOY_RECIPE, source=source, root=root)


def build():
    space = ToySpace()
    error = np.empty((12, 2, 1))
    for arch in space.canonical_archs():
        depth, width = arch
        error[space.table_index(arch), :, 0] = (depth - 2) ** 2 + abs(width - 32) / 16 + np.array([0.0, 0.5])
    return [DatasetTable("toy_task", np.array([10]), 10, {"valid_error": error, "train_time": np.full((12, 2, 1), 5.0)})]


TOY_RECIPE = BenchmarkRecipe(
    name="toy", description="toy grid", n_configs=12, datasets=("toy_task",),
    metrics={"valid_error": Metric("valid_error", "min"), "test_error": Metric("test_error", "min"),
             "train_time": Metric("train_time", "min", "s")},
    run_metrics=("valid_error", "train_time"), config_metrics=(), search_metric="valid_error",
    report_metric="test_error", cost_metric="train_time",
    sources={"synthetic": SourceInfo("synthetic", "built in", ("toy_task",), ("valid_error", "train_time"), False,
                                     "built on first use")},
    default_source="synthetic", builders={"synthetic": build})
'''


@pytest.fixture
def toy_conf(tmp_path, monkeypatch):
    (tmp_path / "toy_bench.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    conf = tmp_path / "conf"
    (conf / "search_space").mkdir(parents=True)
    (conf / "dataset").mkdir()
    (conf / "search_space" / "toy.yaml").write_text("_target_: toy_bench.ToySpace\n")
    (conf / "dataset" / "toy_task.yaml").write_text("name: toy_task\nsearch_on: toy_task\nreport_on: toy_task\n")
    (tmp_path / "store").mkdir()  # an explicit $NAS_EXP_DATA must exist (docs/data.md); its sources are built in it
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    return conf


@pytest.mark.parametrize("optimizer", ["random", "smac"])
def test_a_new_benchmark_is_new_files_only(toy_conf, tmp_path, optimizer):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra.searchpath=[file://{toy_conf}]", "search_space=toy",
                                           "dataset=toy_task", f"optimizer={optimizer}", "budget.max_evaluations=12",
                                           "progress=false"])
    run_dir = tmp_path / optimizer
    run_experiment(cfg, run_dir)
    with open(run_dir / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[3:5] == ["valid_error", "test_error"]  # columns named after the recipe's metrics
    errors = [float(r["valid_error"]) for r in rows]
    assert [float(r["incumbent_valid_error"]) for r in rows] == [min(errors[:k + 1]) for k in range(len(errors))]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["metrics"]["optimum"]["value"] == 0.25  # depth 2, width 32: seed mean of 0 and 0.5
    assert result["metrics"]["search"]["direction"] == "min" and result["search_space"] == "toy"
    assert result["provenance"]["benchmark"] == "toy"
