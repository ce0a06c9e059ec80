import re

import numpy as np
import pytest

from nas_exp.search_spaces.nb201 import EDGE_NAMES, EDGES, N_CELLS, OPS, Arch, NB201Space, all_archs

BEST_CIFAR10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_public_constants():
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert EDGE_NAMES[0] == "edge_1_0" and EDGE_NAMES[-1] == "edge_3_2"


def test_every_cell_round_trips_through_every_encoding():
    space = NB201Space()
    archs = all_archs()
    assert len(set(archs)) == N_CELLS
    for index, arch in enumerate(archs):
        assert space.from_config(space.to_config(arch)) == arch
        text = arch.to_str()
        assert Arch.from_str(text) == arch and Arch.from_str(text).to_str() == text
        assert arch.index == index
        assert Arch.from_code(arch.code) == arch
        assert Arch.from_naslib(arch.to_naslib()) == arch
    assert sorted(a.code for a in archs) == list(range(N_CELLS))


def test_configspace_shape():
    cs = NB201Space().configspace
    assert list(cs.keys()) == list(EDGE_NAMES)
    for name in EDGE_NAMES:
        assert tuple(cs[name].choices) == OPS


def test_known_indices_and_strings():
    assert Arch.from_index(0).to_str() == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    arch = Arch.from_str(BEST_CIFAR10)
    assert arch == Arch(["nor_conv_3x3"] * 3 + ["skip_connect"] + ["nor_conv_3x3"] * 2)
    assert arch.op_indices == (3, 3, 3, 1, 3, 3)


def test_naslib_encoding_uses_naslib_op_and_edge_order():
    # NASLib: ops [skip, none, conv3x3, conv1x1, avg]; edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4) (1-based nodes).
    arch = Arch.from_naslib([0, 1, 2, 3, 4, 0])
    assert arch.to_str() == "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|skip_connect~2|"
    assert arch.to_naslib() == (0, 1, 2, 3, 4, 0)


def test_hashable_and_immutable():
    a, b = Arch.from_index(5), Arch.from_index(5)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(TypeError):
        a[0] = "none"  # type: ignore[index]


def test_sample_neighbors_mutate():
    space = NB201Space()
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    assert isinstance(arch, Arch)
    neighbors = space.neighbors(arch)
    assert len(neighbors) == 24 and len(set(neighbors)) == 24 and arch not in neighbors
    assert all(sum(x != y for x, y in zip(arch, n)) == 1 for n in neighbors)
    for _ in range(50):
        child = space.mutate(arch, rng)
        assert child in neighbors
    again = NB201Space().sample(np.random.default_rng(0))
    assert again == arch


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda: Arch(["none"] * 5), "6 edges, got 5 ops"),
        (lambda: Arch(["none"] * 5 + ["conv_5x5"]), "unknown op 'conv_5x5' on edge_3_2"),
        (lambda: Arch.from_str("|none~0|+|none~0|none~1|"), "expected 3 nodes"),
        (lambda: Arch.from_str("|none~0|+|none~0|none~1|+|none~0|none~1|"), "node 3 needs 3 inputs, got 2"),
        (lambda: Arch.from_str("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|"), "must come from node 1, not 2"),
        (lambda: Arch.from_str("|none~0|+|none~0|bogus~1|+|none~0|none~1|none~2|"), "unknown op 'bogus' on edge_2_1"),
        (lambda: Arch.from_str("none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "must start and end with '|'"),
        (lambda: Arch.from_str("|none0|+|none~0|none~1|+|none~0|none~1|none~2|"), "edge 'none0' is not 'op~node'"),
        (lambda: Arch.from_str(42), "must be a str"),
        (lambda: Arch.from_index(15625), "index 15625 is out of range 0..15624"),
        (lambda: Arch.from_index(-1), "index -1 is out of range"),
        (lambda: Arch.from_code(99999), "code 99999 is out of range"),
        (lambda: Arch.from_naslib([0, 1, 2, 3, 4, 5]), "NASLib op index 5 at position 5 is out of range"),
        (lambda: Arch.from_naslib([0, 1]), "NASLib op_indices need 6 entries"),
        (lambda: NB201Space().from_config({"edge_1_0": "none"}), "lacks NB201 edge(s) edge_2_0"),
    ],
)
def test_bad_input_names_the_bad_part(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        bad()
