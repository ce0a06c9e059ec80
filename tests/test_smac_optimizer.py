import numpy as np
import pytest
from ConfigSpace import ConfigurationSpace, Float

from nas_exp.budgets.budget import Budget
from nas_exp.errors import UserError
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.exhaustive_acquisition import (ExhaustiveAcquisitionMaximizer, enumerate_configs,
                                                       enumeration_problem)
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import NB201Space, all_archs
from nas_exp.search_spaces.nb201_hpo import NB201HPOSpace


def test_enumeration_covers_the_space_once():
    space = NB201Space()
    configs = enumerate_configs(space.configspace)
    assert len(configs) == 15625 and len(set(configs)) == 15625
    assert {space.from_config(c) for c in configs} == set(all_archs())


def test_enumeration_refuses_continuous_spaces():
    cs = ConfigurationSpace(space=[Float("lr", (1e-4, 1e-1))])
    with pytest.raises(ValueError, match="'lr' is UniformFloatHyperparameter: use acquisition=local_search"):
        enumerate_configs(cs)


@pytest.mark.parametrize("acquisition", ["exhaustive", "local_search"])
def test_smac_runs_in_the_run_folder_and_learns(tmp_path, bench, acquisition):
    space = NB201Space()
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", benchmark=bench)
    optimizer = SMACOptimizer(space.configspace, seed=1, output_dir=tmp_path, max_trials=60,
                              acquisition=acquisition, n_initial=20)
    result = run_search(space, optimizer, evaluator, Budget(max_evaluations=60), 1)
    assert len(result.rows) == 60
    assert (tmp_path / "smac3").is_dir() and not (tmp_path.parent / "smac3_output").exists()
    assert all(0 < r.value < 100 for r in result.rows)
    if acquisition == "exhaustive":
        # the model-guided proposals are better than the random initial design, and never repeat a cell.
        # (local_search is not checked for this: in a process without PYTHONHASHSEED=0 its proposals vary run to
        # run, and on this all-categorical space they are often SMAC's random fallbacks.)
        initial = [r.value for r in result.rows[:20]]
        guided = [r.value for r in result.rows[20:]]
        assert np.median(guided) > np.median(initial)
        assert result.n_repeats == 0


def test_auto_acquisition_enumerates_cell_spaces_and_searches_locally_otherwise(tmp_path):
    from smac.acquisition.maximizer import LocalAndSortedRandomSearch

    cells, joint = NB201Space().configspace, NB201HPOSpace().configspace
    assert enumeration_problem(cells) is None
    assert "'learning_rate' is UniformFloatHyperparameter" in enumeration_problem(joint)
    for configspace, maximizer in ((cells, ExhaustiveAcquisitionMaximizer), (joint, LocalAndSortedRandomSearch)):
        optimizer = SMACOptimizer(configspace, seed=0, output_dir=tmp_path / maximizer.__name__, acquisition="auto")
        assert type(optimizer.smac.intensifier.config_selector._acquisition_maximizer) is maximizer


def test_bad_acquisition_name():
    with pytest.raises(ValueError, match="unknown optimizer.acquisition 'grid'"):
        SMACOptimizer(NB201Space().configspace, seed=0, acquisition="grid")


@pytest.mark.parametrize("overrides, expected, initial", [
    (["budget.max_evaluations=200"], 200, 50),  # SMAC's rule on its trial count: min(10 x 6, 25% of 200)
    (["budget.max_evaluations=100"], 100, 25),
    (["budget=simulated_1day"], None, None),  # filled below from the table's mean cost
])
def test_smacs_initial_design_is_sized_from_the_expected_evaluations(overrides, expected, initial, store_root,
                                                                     tmp_path, monkeypatch, bench):
    """A time budget has no trial count: the initial design is SMAC's rule applied to the budget over the mean
    cost of a cell (not to SMAC's unbounded 100,000 trials, which gave 60 random cells of ~105)."""
    from hydra import compose, initialize_config_dir

    from nas_exp.components import build_components
    from conftest import REPO

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["optimizer=smac", *overrides])
    parts = build_components(cfg, tmp_path)
    if expected is None:
        mean_cost = float(np.nanmean(bench.metric_array("cifar10-valid", "train_time")))
        expected = int(24 * 3600 / mean_cost)
        initial = min(60, int(0.25 * expected))
    assert parts.optimizer.expected_trials == expected
    assert parts.optimizer.smac._initial_design._n_configs == initial


def smac_bb_proposals(tmp_path, n: int = 10, **settings) -> list[dict]:
    from nas_exp.optimizers.smac_blackbox import SMACBlackBox

    optimizer = SMACBlackBox(NB201Space().configspace, seed=3, output_dir=tmp_path, max_trials=n, n_initial=4,
                             gp_warmup=2, gp_growth=0.5, gp_restarts=1, **settings)
    proposals = []
    for i in range(n):
        trial = optimizer.ask()
        proposals.append(dict(trial.config))
        optimizer.tell(trial, loss=float(np.random.default_rng(i).random()), cost=1.0)
    optimizer.close()
    return proposals


def test_smac_bb_settings_are_honoured_and_its_proposals_deterministic(tmp_path):
    """gp_restarts reaches SMAC's GP; SMAC asks and is told with blas_threads BLAS threads (the process's count
    restored after); the same seed gives the same proposals, and the BLAS thread count does not change them."""
    from threadpoolctl import ThreadpoolController

    from nas_exp.optimizers.smac_blackbox import SMACBlackBox

    optimizer = SMACBlackBox(NB201Space().configspace, seed=0, output_dir=tmp_path / "o", max_trials=5,
                             gp_restarts=3, blas_threads=1)
    assert optimizer.smac._model._n_restarts == 3
    seen, ask = [], optimizer.smac.ask

    def recording_ask():
        seen.append({info["num_threads"] for info in ThreadpoolController().info() if info["user_api"] == "blas"})
        return ask()

    optimizer.smac.ask = recording_ask
    before = {info["num_threads"] for info in ThreadpoolController().info() if info["user_api"] == "blas"}
    optimizer.ask()
    assert seen == [{1}]
    assert {info["num_threads"] for info in ThreadpoolController().info() if info["user_api"] == "blas"} == before

    first = smac_bb_proposals(tmp_path / "a")
    assert first == smac_bb_proposals(tmp_path / "b")
    assert first == smac_bb_proposals(tmp_path / "c", blas_threads=None)
    assert len({tuple(sorted(p.items())) for p in first}) == len(first)


@pytest.mark.parametrize("settings", [{"gp_restarts": -1}, {"gp_restarts": 2.5}, {"blas_threads": 0}])
def test_smac_bb_refuses_bad_gp_settings(tmp_path, settings):
    from nas_exp.optimizers.smac_blackbox import SMACBlackBox

    with pytest.raises(UserError, match="gp_restarts|blas_threads"):
        SMACBlackBox(NB201Space().configspace, seed=0, output_dir=tmp_path, max_trials=5, **settings)
