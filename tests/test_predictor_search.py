"""Predictor-based search (optimizer=bananas, optimizer=npenas): the one-hot features, the MLP ensemble, and the
search loop's candidates and settings. Runs on every space are in test_space_matrix.py."""

from __future__ import annotations

import numpy as np
import pytest
from ConfigSpace import Categorical, ConfigurationSpace, Float, OrdinalHyperparameter

from nas_exp.errors import UserError
from nas_exp.optimizers.bananas import Bananas
from nas_exp.optimizers.mlp_ensemble import MLPEnsemble
from nas_exp.optimizers.npenas import NPENAS
from nas_exp.optimizers.pnas import PNAS
from nas_exp.optimizers.predictor_features import OneHotFeatures
from nas_exp.optimizers.predictor_search import key_of
from nas_exp.search_spaces.nb201 import NB201Space, OPS

pytest.importorskip("torch")


def test_one_hot_features_of_nb201_mark_one_op_per_edge():
    space = NB201Space()
    features = OneHotFeatures(space.configspace)
    arch = ("nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3")
    row = features(space.to_config(arch)).reshape(6, 5)
    assert features.width == 30 and (row.sum(axis=1) == 1).all()
    config = space.to_config(arch)
    for i, name in enumerate(space.configspace):  # the column of each edge's op, in the space's choice order
        assert row[i, list(space.configspace[name].choices).index(config[name])] == 1
    assert set(OPS) == set(space.configspace["edge_1_0"].choices)


def test_numerical_and_ordinal_hyperparameters_get_one_column_or_a_one_hot():
    cs = ConfigurationSpace(seed=0)
    cs.add([Float("lr", (0.0, 1.0)), OrdinalHyperparameter("depth", [1, 2, 4]), Categorical("act", ["a", "b"])])
    features = OneHotFeatures(cs)
    config = cs.sample_configuration()
    vector = features(config)
    assert list(cs) == ["act", "depth", "lr"]  # ConfigSpace's own order: the features' column order
    assert features.width == 2 + 3 + 1 and vector[5] == pytest.approx(config["lr"])  # uniform on [0, 1]
    assert vector[:2].sum() == 1 and vector[2:5].sum() == 1
    assert vector[2 + [1, 2, 4].index(config["depth"])] == 1


def test_the_ensemble_learns_a_smooth_function_and_its_members_differ():
    rng = np.random.default_rng(0)
    x = rng.random((80, 4))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 0.1 * rng.normal(size=80)
    ensemble = MLPEnsemble(n_members=3, epochs=300, seed=0)
    ensemble.fit(x, y)
    test = rng.random((40, 4))
    predicted = ensemble.predict(test)
    truth = 3 * test[:, 0] - 2 * test[:, 1]
    assert predicted.shape == (3, 40)
    assert np.corrcoef(predicted.mean(axis=0), truth)[0, 1] > 0.9
    assert np.ptp(predicted, axis=0).mean() > 0  # spread: the uncertainty ITS samples from
    again = MLPEnsemble(n_members=3, epochs=300, seed=0)
    again.fit(x, y)
    assert np.array_equal(again.predict(test), predicted)  # seeded


def test_bananas_never_proposes_a_configuration_twice_while_unseen_ones_remain():
    space = NB201Space()
    bananas = Bananas(space.configspace, seed=0, n_initial=5, batch_size=5, epochs=30)
    keys = []
    for i in range(30):
        trial = bananas.ask()
        keys.append(key_of(trial.config))
        bananas.tell(trial, float(i % 7), 1.0)
    assert len(set(keys)) == 30


@pytest.mark.parametrize("kwargs,message", [
    ({"n_initial": 1}, "optimizer.n_initial must be an int >= 2, got 1"),
    ({"acquisition": "ucb"}, "unknown optimizer.acquisition 'ucb'; valid: its, mean"),
    ({"n_members": 1}, "acquisition=its needs the spread of an ensemble"),
    ({"batch_size": 0}, "optimizer.batch_size must be an int >= 1, got 0"),
])
def test_bad_settings_are_one_line(kwargs, message):
    with pytest.raises(UserError, match=message):
        Bananas(NB201Space().configspace, seed=0, **kwargs)


def test_npenas_ranks_by_the_predicted_mean_with_one_network():
    npenas = NPENAS(NB201Space().configspace, seed=0)
    assert (npenas.acquisition, npenas.predictor.n_members, npenas.batch_size) == ("mean", 1, 1)


def test_pnas_grows_nb201_cells_one_edge_at_a_time():
    space = NB201Space()
    pnas = PNAS(space.configspace, seed=0, beam=4, epochs=30)
    sizes = []
    for i in range(24 + 4 * 5 + 3):
        trial = pnas.ask()
        sizes.append(pnas.size(trial.config))
        pnas.tell(trial, float(-sum(op != "none" for op in dict(trial.config).values()) + 0.01 * i), 1.0)
    assert sizes[:24] == [1] * 24  # every cell with one edge (6 edges x 4 ops), then the beam at each size
    assert sizes[24:44] == [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [6] * 4
    assert all(size == 6 for size in sizes[44:])  # grown: one-part changes of the best, which keep all edges


def test_pnas_refuses_a_space_without_absent_values():
    cs = ConfigurationSpace()
    cs.add([Categorical("op", ["a", "b"])])
    with pytest.raises(UserError, match="optimizer=pnas grows architectures part by part"):
        PNAS(cs, seed=0)
