"""nas-exp's SMAC components (intensifier, config selector, exhaustive maximizer on the encoded grid): they
propose what SMAC's own would, key configurations by value (not by ``Configuration.__hash__``) and write SMAC's
run history in batches."""

from __future__ import annotations

import itertools
import json

import numpy as np
from ConfigSpace import Configuration
from smac import HyperparameterOptimizationFacade as HPO
from smac.acquisition.function import EI
from smac.runhistory import RunHistory, StatusType
from smac.runhistory.dataclasses import TrialValue

from nas_exp.optimizers.exhaustive_acquisition import ExhaustiveAcquisitionMaximizer, _choices, encoded_grid
from nas_exp.optimizers.smac_base import config_selector, intensifier, random_forest
from nas_exp.optimizers.smac_components import LookupRunHistory, config_key, use_lookup_run_history
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.search_spaces.fcnet import FCNetSpace
from nas_exp.search_spaces.nb201 import NB201Space


def as_plain_strings(config: Configuration) -> Configuration:
    """The same configuration built from Python strings (a sampled one holds numpy strings)."""
    return Configuration(config.config_space, values={name: str(value) for name, value in config.items()})


def test_config_key_is_equal_for_equal_configurations_whatever_their_value_types():
    configspace = NB201Space().configspace
    configspace.seed(3)
    for sampled in configspace.sample_configuration(20):
        rebuilt = as_plain_strings(sampled)
        assert sampled == rebuilt and config_key(sampled) == config_key(rebuilt)
    a, b = configspace.sample_configuration(2)
    assert a != b and config_key(a) != config_key(b)


def test_encoded_grid_is_the_product_of_the_choices_in_order():
    for configspace in (NB201Space().configspace, FCNetSpace().configspace):
        names, choices, _ = _choices(configspace)
        grid = encoded_grid(configspace)
        product = list(itertools.product(*choices))
        assert grid.shape == (len(product), len(names))
        for i in (0, 1, len(product) // 3, len(product) - 1):
            assert Configuration(configspace, vector=grid[i]) == Configuration(configspace,
                                                                               values=dict(zip(names, product[i])))
        assert len({row.tobytes() for row in grid}) == len(product)


def scenario(tmp_path, seed: int = 0):
    return SMACOptimizer(NB201Space().configspace, seed=seed, output_dir=tmp_path).scenario()


def test_exhaustive_maximizer_never_offers_an_evaluated_configuration(tmp_path):
    """Evaluated configurations are excluded by value, whether they hold numpy or Python strings (a dict keyed
    by ``Configuration`` missed the sampled ones: its hash is the repr, which differs between the two)."""
    configspace = NB201Space().configspace
    maximizer = ExhaustiveAcquisitionMaximizer(configspace, seed=0)
    configspace.seed(1)
    sampled = configspace.sample_configuration(30)
    evaluated = sampled[:15] + [as_plain_strings(c) for c in sampled[15:]]
    model = random_forest(scenario(tmp_path))
    rng = np.random.default_rng(0)
    model.train(np.array([c.get_array() for c in evaluated]), rng.random((30, 1)))
    acquisition = EI()
    acquisition.update(model=model, eta=0.1, num_data=30)
    maximizer.acquisition_function = acquisition
    assert sorted(maximizer.positions(evaluated)) == sorted(maximizer.positions(sampled))
    offered = list(maximizer.maximize(evaluated, n_points=len(maximizer._arrays)))
    assert len(offered) == 15625 - 30
    assert not {config_key(c) for c in offered} & {config_key(c) for c in evaluated}


def smacs_bounds(runhistory: RunHistory) -> list:
    """What ``RunHistory._update_objective_bounds`` (SMAC's full rescan) computes from the same data."""
    copy = RunHistory(n_objectives=runhistory._n_objectives)
    copy._data = runhistory._data
    RunHistory._update_objective_bounds(copy)
    return copy.objective_bounds


def same_bounds(a: list, b: list) -> bool:
    """Equal as SMAC's own, element types (np.float64 / float) and NaN included."""
    return len(a) == len(b) and all(
        type(x) is type(y) and (x == y or (np.isnan(x) and np.isnan(y))) for pa, pb in zip(a, b)
        for x, y in zip(pa, pb))


def test_incremental_objective_bounds_equal_smacs_rescan_after_every_add():
    """Random adds (running then finished, failures, timeouts (counted), overwrites of successes, NaN and inf
    costs, one and two objectives): after each one the incremental bounds are SMAC's rescan of the same data."""
    configspace = NB201Space().configspace
    configspace.seed(0)
    configs = configspace.sample_configuration(40)
    rng = np.random.default_rng(0)
    for n_objectives in (1, 2):
        ours = LookupRunHistory(n_objectives=n_objectives if n_objectives > 1 else -1,
                                overwrite_existing_trials=True)
        assert ours.objective_bounds == []
        for i in range(400):
            config = configs[int(rng.integers(len(configs)))]
            cost = rng.normal(size=n_objectives)
            if rng.random() < 0.03:
                cost[0] = rng.choice([np.nan, np.inf, -np.inf])
            status = [StatusType.SUCCESS, StatusType.RUNNING, StatusType.CRASHED, StatusType.TIMEOUT][
                rng.choice(4, p=[0.6, 0.3, 0.05, 0.05])]
            ours.add(config, cost.tolist() if n_objectives > 1 else float(cost[0]), status=status,
                     seed=int(rng.integers(3)))
            assert same_bounds(ours.objective_bounds, smacs_bounds(ours)), i
            assert ours._n_timeouts == sum(v.status == StatusType.TIMEOUT for v in ours._data.values())
        assert len(ours) > 100 and ours._lows is not None


def test_lookup_run_history_is_installed_on_the_facades_shared_instance(tmp_path):
    """The facade's one run history becomes a ``LookupRunHistory`` (SMBO, intensifier, selector and encoder hold
    it), and after a run of asks and tells its bounds are SMAC's rescan."""
    optimizer = SMACOptimizer(NB201Space().configspace, seed=1, output_dir=tmp_path, max_trials=40, n_initial=8)
    runhistory = optimizer.smac.runhistory
    assert type(runhistory) is LookupRunHistory and runhistory.objective_bounds == []
    assert optimizer.smac.intensifier.runhistory is runhistory
    assert optimizer.smac._config_selector._runhistory is runhistory
    assert optimizer.smac._runhistory_encoder.runhistory is runhistory
    assert use_lookup_run_history(optimizer.smac) is runhistory  # installing twice is a no-op
    for i in range(40):
        trial = optimizer.ask()
        optimizer.tell(trial, loss=float(np.sin(i)), cost=1.0)
        assert same_bounds(runhistory.objective_bounds, smacs_bounds(runhistory))
    assert runhistory.objective_bounds == [(min(np.sin(range(40))), max(np.sin(range(40))))]


def propose(facade_kwargs: dict, tmp_path, losses: dict[bytes, float], n: int = 30) -> list[bytes]:
    """The configurations a seeded SMAC HPO facade proposes over ``n`` ask/tell rounds."""
    optimizer = SMACOptimizer(NB201Space().configspace, seed=4, output_dir=tmp_path, max_trials=n, n_initial=6)
    scenario = optimizer.smac.scenario
    smac = HPO(scenario, target_function=optimizer.no_target, model=random_forest(scenario),
               initial_design=HPO.get_initial_design(scenario, n_configs=6),
               acquisition_maximizer=ExhaustiveAcquisitionMaximizer(scenario.configspace, seed=scenario.seed),
               overwrite=True, logging_level=40, **facade_kwargs(scenario))
    asked = []
    for _ in range(n):
        info = smac.ask()
        key = config_key(info.config)
        asked.append(key)
        smac.tell(info, TrialValue(cost=losses.setdefault(key, float(np.random.default_rng(len(losses)).random()))))
    return asked


def test_lookup_components_propose_what_smacs_own_components_propose(tmp_path):
    losses: dict[bytes, float] = {}  # one fixed loss per configuration, shared by both runs
    smacs_own = propose(lambda s: {"intensifier": HPO.get_intensifier(s, max_config_calls=1)}, tmp_path / "a",
                        losses)
    lookup = propose(lambda s: {"intensifier": intensifier(HPO, s), "config_selector": config_selector(HPO, s)},
                     tmp_path / "b", losses)
    assert lookup == smacs_own and len(set(lookup)) == 30


def test_run_history_is_written_every_k_tells_and_on_close(tmp_path):
    optimizer = SMACOptimizer(NB201Space().configspace, seed=0, output_dir=tmp_path, max_trials=12, n_initial=12,
                              save_every=5)

    def n_saved() -> int:
        files = list((tmp_path / "smac3").glob("**/runhistory.json"))
        return len(json.loads(files[0].read_text())["data"]) if files else 0

    for i in range(7):
        trial = optimizer.ask()
        optimizer.tell(trial, loss=float(i), cost=1.0)
    assert n_saved() == 5
    optimizer.close()
    assert n_saved() == 7


def test_gp_schedule_optimizes_hyperparameters_early_then_as_the_data_grows(tmp_path):
    from smac import BlackBoxFacade

    from nas_exp.optimizers.smac_components import ScheduledGaussianProcess

    s = scenario(tmp_path)
    gp = ScheduledGaussianProcess(configspace=s.configspace, kernel=BlackBoxFacade.get_kernel(s), normalize_y=True,
                                  seed=0, warmup=5, growth=0.5)
    rng = np.random.default_rng(0)
    X = np.array([c.get_array() for c in s.configspace.sample_configuration(30)])
    y = rng.random((30, 1))
    optimized = []
    for n in range(1, 31):
        before = gp._n_ll_evals
        gp.train(X[:n], y[:n])
        if gp._n_ll_evals > before:
            optimized.append(n)
    assert optimized == [1, 2, 3, 4, 5, 8, 12, 18, 27]  # after 5: each time the data grew by half
    mean, var = gp.predict(X[:3])
    assert np.all(np.isfinite(mean)) and np.all(var >= 0)
    every = ScheduledGaussianProcess(configspace=s.configspace, kernel=BlackBoxFacade.get_kernel(s),
                                     normalize_y=True, seed=0, growth=0)
    assert all(every.due(n) for n in range(1, 200))


def test_log_leaf_forest_sets_the_leaf_values_smacs_forest_sets():
    from smac.model.random_forest.random_forest import EPMRandomForest

    from nas_exp.optimizers.smac_components import LogLeafForest

    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(300, 6)).astype(float)
    X = np.vstack([X, X[:60], *[X[:4]] * 6])  # repeated configurations: leaves of 8 or more samples too
    y = np.log(rng.random(len(X)) + 0.1)
    settings = dict(n_estimators=10, max_features=1.0, min_samples_split=2, min_samples_leaf=1, max_depth=2**20,
                    bootstrap=True, random_state=3, log_y=True)
    smacs, ours = EPMRandomForest(**settings), LogLeafForest(**settings)
    smacs.fit(X, y)
    ours.fit(X, y)
    for a, b in zip(smacs.estimators_, ours.estimators_):
        np.testing.assert_array_equal(a.tree_.value, b.tree_.value)
    np.testing.assert_array_equal(smacs.predict(X)[0], ours.predict(X)[0])


def test_lookup_hamming_kernel_gives_smacs_floats():
    """The same kernel matrices, bit for bit, as SMAC's HammingKernel (isotropic and per-dimension length scales,
    X against itself and against Y, with an active mask); gradients are SMAC's own."""
    from smac.model.gaussian_process.kernels import HammingKernel

    from nas_exp.optimizers.smac_components import LookupHammingKernel

    rng = np.random.default_rng(0)
    for d in range(1, 8):
        X = rng.integers(0, 5, (300, d)).astype(float)
        Y = rng.integers(0, 5, (40, d)).astype(float)
        for length_scale in (0.7, np.exp(rng.normal(size=d))):
            ours, smacs = LookupHammingKernel(length_scale), HammingKernel(length_scale)
            assert np.array_equal(ours(X, Y), smacs(X, Y))
            assert np.array_equal(ours(X), smacs(X))
            active = rng.random((300, 40)) > 0.3
            assert np.array_equal(ours._call(X, Y, active=active), smacs._call(X, Y, active=active))
            for a, b in zip(ours(X[:30], eval_gradient=True), smacs(X[:30], eval_gradient=True)):
                assert np.array_equal(a, b)
    assert not np.allclose(ours(X, Y), 1.0)  # a non-trivial kernel was compared


def test_with_lookup_hamming_keeps_the_facades_kernel_and_its_parameters(tmp_path):
    from smac import BlackBoxFacade
    from smac.model.gaussian_process.kernels import HammingKernel

    from nas_exp.optimizers.smac_components import LookupHammingKernel, with_lookup_hamming

    s = scenario(tmp_path)
    facades, ours = BlackBoxFacade.get_kernel(s), with_lookup_hamming(BlackBoxFacade.get_kernel(s))
    assert type(ours.k1.k2) is LookupHammingKernel and type(facades.k1.k2) is HammingKernel
    assert np.array_equal(ours.theta, facades.theta) and np.array_equal(ours.bounds, facades.bounds)
    assert [h.name for h in ours.hyperparameters] == [h.name for h in facades.hyperparameters]
    X = np.array([c.get_array() for c in s.configspace.sample_configuration(50)])
    assert np.array_equal(ours(X, X[:7]), facades(X, X[:7]))
    assert type(ours.clone_with_theta(ours.theta).k1.k2) is LookupHammingKernel  # survives scikit-learn's clone


def test_lazy_ranking_gives_the_full_sorts_order_ties_included():
    """``_Ranking``'s head (the rows at or above the 64th highest value) and its full sort are the order of
    ``np.lexsort((keys, values))[::-1]`` that the maximizer used to compute, with values and keys that tie."""
    from nas_exp.optimizers.exhaustive_acquisition import _Ranking

    rng = np.random.default_rng(0)
    for size, levels in ((15625, 40), (15625, 15625), (300, 3), (50, 2), (10, 1)):
        values = rng.integers(levels, size=size).astype(float)
        keys = rng.integers(4, size=size) / 4  # ties in the key too: then the higher row comes first
        for n_points in (5, 64, 100, 5000):
            expected = np.lexsort((keys, values))[::-1][:n_points]
            head = _Ranking(np.arange(size), values, keys, n_points)
            assert np.array_equal(head.order(min(len(head), 8)), expected[:8])
            assert np.array_equal(head.order(len(head)), expected)


def test_maximizer_reuses_positions_only_for_the_same_leading_configurations():
    configspace = NB201Space().configspace
    maximizer = ExhaustiveAcquisitionMaximizer(configspace, seed=0)
    configspace.seed(2)
    configs = configspace.sample_configuration(60)
    everything = set(range(len(maximizer._arrays)))
    for previous in (configs[:10], configs[:30], configs[:30], configs[5:40], configs[:3], []):
        expected = sorted(everything - set(maximizer.positions(previous).tolist()))
        assert maximizer._open_rows(previous).tolist() == expected


def test_lookup_run_history_saves_smacs_bytes(tmp_path):
    """``LookupRunHistory.save`` writes what ``RunHistory.save`` writes (empty, running and finished trials,
    budgets, instances, two objectives, extra info, numpy values), also after trials change between saves."""
    configspace = NB201Space().configspace
    configspace.seed(5)
    configs = configspace.sample_configuration(6) + [as_plain_strings(configspace.sample_configuration())]
    for n_objectives in (1, 2):
        ours = LookupRunHistory(n_objectives=n_objectives if n_objectives > 1 else -1)

        def check(name: str) -> None:
            ours.save(tmp_path / f"ours_{name}.json")
            RunHistory.save(ours, tmp_path / f"smac_{name}.json")
            assert (tmp_path / f"ours_{name}.json").read_bytes() == (tmp_path / f"smac_{name}.json").read_bytes()

        check(f"{n_objectives}_empty")
        cost = (lambda i: [float(i), np.float64(i) / 3]) if n_objectives > 1 else (lambda i: np.float64(i) / 7)
        for i, config in enumerate(configs):
            ours.add(config, cost(i), status=StatusType.RUNNING, seed=0, budget=None if i % 2 else 2.5)
            check(f"{n_objectives}_{i}_running")
            ours.add(config, cost(i), status=StatusType.SUCCESS if i % 3 else StatusType.CRASHED, seed=0,
                     budget=None if i % 2 else 2.5, instance=None, time=0.1 * i, starttime=i, endtime=i + 1.5,
                     additional_info={"note": f"trial {i}", "values": [1, 2]} if i == 4 else None, force_update=True)
            check(f"{n_objectives}_{i}")
        configs[0].origin = "changed"
        check(f"{n_objectives}_origin")
        assert json.loads((tmp_path / f"ours_{n_objectives}_origin.json").read_text())["stats"]["finished"] == 7


def test_lookup_encoder_builds_smacs_matrices(tmp_path):
    """After real asks and tells, then with crashed and timed-out trials added, ``LookupLogScaledEncoder``'s X, y
    and configuration array are SMAC's ``RunHistoryLogScaledEncoder``'s, the same floats."""
    from smac.runhistory.encoder import RunHistoryLogScaledEncoder

    from nas_exp.optimizers.smac_components import LookupLogScaledEncoder

    optimizer = SMACOptimizer(NB201Space().configspace, seed=2, output_dir=tmp_path, max_trials=40, n_initial=8)
    ours = optimizer.smac._runhistory_encoder
    assert type(ours) is LookupLogScaledEncoder
    runhistory = optimizer.smac.runhistory
    smacs = RunHistoryLogScaledEncoder(optimizer.smac.scenario)
    smacs.runhistory = runhistory

    def check() -> None:
        for budgets in ([None], None):
            for a, b in zip(ours.transform(budget_subset=budgets), smacs.transform(budget_subset=budgets)):
                assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
            assert np.array_equal(ours.get_configurations(budgets), smacs.get_configurations(budgets))

    for i in range(20):
        optimizer.tell(optimizer.ask(), loss=float(np.cos(i)), cost=1.0)
    check()
    configspace = optimizer.configspace
    configspace.seed(9)
    for status in (StatusType.CRASHED, StatusType.TIMEOUT, StatusType.SUCCESS):
        runhistory.add(configspace.sample_configuration(), 0.5, status=status, seed=0)
        check()
    assert runhistory._n_timeouts == 1 and len(ours._get_timeout_trials([None])) == 1
    running = optimizer.ask()  # a running trial is in the run history, not among the considered ones
    assert [value.status for value in runhistory._data.values()][-1] == StatusType.RUNNING
    check()
    optimizer.tell(running, loss=0.25, cost=1.0)
    check()


def test_lookup_run_history_and_encoder_propose_what_smacs_own_propose(tmp_path):
    """The same seeded SMAC optimizer with nas-exp's run history and encoder, and with SMAC's own classes put
    back, proposes the same 80 configurations (model-based after 8) and writes the same runhistory.json; a second
    run of the first proposes them again."""
    from smac.runhistory.encoder import RunHistoryLogScaledEncoder

    def run(folder, smacs_own: bool) -> tuple[list[bytes], bytes]:
        optimizer = SMACOptimizer(NB201Space().configspace, seed=6, output_dir=tmp_path / folder, max_trials=80,
                                  n_initial=8)
        if smacs_own:  # both still empty: SMAC's classes back on the same objects
            optimizer.smac.runhistory.__class__ = RunHistory
            optimizer.smac._runhistory_encoder.__class__ = RunHistoryLogScaledEncoder
        asked = []
        for _ in range(80):
            trial = optimizer.ask()
            asked.append(config_key(trial.config))
            optimizer.tell(trial, loss=float(np.random.default_rng(len(set(asked))).random()), cost=1.0)
        optimizer.close()
        (saved,) = (tmp_path / folder).glob("**/runhistory.json")
        return asked, saved.read_bytes()

    ours, smacs, again = run("ours", False), run("smacs", True), run("again", False)
    assert ours == smacs == again and len(set(ours[0])) == 80


def test_forest_trains_on_at_most_max_points_trials_and_on_all_below(tmp_path):
    """``rf_max_points``: up to that many trials the forest is SMAC's, tree for tree; beyond, each fit's trees
    see ``max_points`` distinct trials (a fresh draw per fit), so a fit's cost stops growing with the trials."""
    s = scenario(tmp_path)
    rng = np.random.default_rng(1)
    X = rng.integers(0, 5, size=(120, 6)).astype(float)
    y = rng.random((120, 1)) + 0.1
    capped, plain = random_forest(s, max_points=120), random_forest(s)
    capped.train(X, y)
    plain.train(X, y)
    for a, b in zip(capped._rf.estimators_, plain._rf.estimators_):
        np.testing.assert_array_equal(a.tree_.value, b.tree_.value)
    np.testing.assert_array_equal(capped.predict(X)[0], plain.predict(X)[0])
    small = random_forest(s, max_points=50)
    draws = []
    for _ in range(2):
        small.train(X, y)
        # bootstrap weights sum to the rows a tree was fitted on: 50 of the 120
        assert {tree.tree_.weighted_n_node_samples[0] for tree in small._rf.estimators_} == {50.0}
        draws.append(small._rf.predict(X)[0])
    assert not np.array_equal(*draws)  # a fresh subset per fit
