"""NB201's path encoding (nas_exp/search_spaces/nb201_paths.py), the declared edge cells' (cell_paths.py; on
nb201_declared NB201's, cell for cell), and how predictor-based search gets it: ``optimizer.encoding=auto|path|
onehot``, the space's ``PATHS`` capability, the refusal elsewhere, and real short BANANAS runs on it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import REPO, run_in_store
from nas_exp.components import ConfigError, encoder_kwargs, space_capabilities, spaces_with
from nas_exp.errors import UserError
from nas_exp.search_spaces import cell_paths as declared_paths
from nas_exp.search_spaces.base import PATHS, CapabilityError
from nas_exp.search_spaces.cell_paths import CellPathEncoder
from nas_exp.search_spaces.declared import DeclaredCellSpace
from nas_exp.search_spaces.nb201 import EDGE_NAMES, OPS, Arch, NB201Space, all_archs
from nas_exp.search_spaces.nb201_hpo import NB201HPOSpace
from nas_exp.search_spaces.nb201_paths import (NODE_PATHS, PATH_OPS, WIDTH, NB201PathEncoder, cell_paths,
                                               encode_paths, path_column)

SKIP, C1, C3, POOL = "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"


def cell(**ops: str) -> Arch:
    """A cell of ``none`` edges except those named (``edge_3_0="skip_connect"``)."""
    unknown = set(ops) - set(EDGE_NAMES)
    assert not unknown, unknown
    return Arch(ops.get(name, "none") for name in EDGE_NAMES)


def ones(vector: np.ndarray) -> set[int]:
    return set(np.flatnonzero(vector).tolist())


# --- the encoding ------------------------------------------------------------------------------------------------

def test_four_node_paths_and_84_columns_over_the_ops_that_carry_data():
    assert NODE_PATHS == ((0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3))
    assert PATH_OPS == (SKIP, C1, C3, POOL) and "none" in OPS and "none" not in PATH_OPS
    assert WIDTH == 4 + 4 ** 2 + 4 ** 3 == 84
    encoder = NB201Space().path_encoder()
    assert encoder.name == "path" and encoder.width == WIDTH
    assert encoder.many([]).shape == (0, WIDTH)


def test_the_all_none_cell_has_no_paths():
    assert cell_paths(cell()) == [] and not encode_paths(cell()).any()


def test_the_all_skip_cell_has_exactly_the_four_all_skip_paths():
    arch = Arch([SKIP] * 6)
    assert cell_paths(arch) == [(SKIP,), (SKIP, SKIP), (SKIP, SKIP), (SKIP, SKIP, SKIP)]
    # the two length-2 paths share one sequence, so one column: skip (0), skip-skip (4 + 0), skip-skip-skip (20 + 0)
    assert ones(encode_paths(arch)) == {0, 4, 20}


def test_a_node_fed_only_by_none_has_no_paths_through_it():
    base = dict(edge_2_0=C3, edge_3_0=POOL, edge_3_2=C1)  # edge_1_0 none: node 1 receives nothing
    paths = cell_paths(cell(**base))
    assert paths == [(POOL,), (C3, C1)]
    for into_2, out_of_1 in [(SKIP, SKIP), (C3, C1), (POOL, C3)]:  # node 1's other edges cannot matter
        assert np.array_equal(encode_paths(cell(**base, edge_2_1=into_2, edge_3_1=out_of_1)),
                              encode_paths(cell(**base)))


def test_a_known_cell_against_its_hand_written_vector():
    arch = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                         "nor_conv_1x1~2|")
    # ops as base-4 digits: skip 0, conv1x1 1, conv3x3 2, pool 3; blocks start at 0 (length 1), 4 (2), 20 (3)
    #   0->3       skip                  -> 0
    #   0->1->3    conv3, conv3          -> 4 + 2*4 + 2 = 14
    #   0->2->3    conv3, conv1          -> 4 + 2*4 + 1 = 13
    #   0->1->2->3 conv3, conv3, conv1   -> 20 + 2*16 + 2*4 + 1 = 61
    expected = np.zeros(84)
    expected[[0, 13, 14, 61]] = 1
    assert np.array_equal(encode_paths(arch), expected)
    assert path_column((POOL, POOL, POOL)) == 83 and path_column((POOL,)) == 3 and path_column((SKIP, SKIP)) == 4


def test_cells_that_differ_only_where_no_path_runs_share_one_vector():
    # node 1 feeds nothing (edges 2<-1 and 3<-1 none): the op into node 1 is irrelevant
    dead_end = [cell(edge_1_0=op, edge_2_0=C3, edge_3_2=C3, edge_3_0=SKIP) for op in OPS]
    assert len({a for a in dead_end}) == 5 and all(np.array_equal(encode_paths(a), encode_paths(dead_end[0]))
                                                   for a in dead_end)
    # with edge 2<-1 none, nodes 1 and 2 are interchangeable: swapping their in- and out-edges is the same cell
    left = cell(edge_1_0=C1, edge_3_1=POOL, edge_2_0=C3, edge_3_2=SKIP, edge_3_0=C3)
    right = cell(edge_2_0=C1, edge_3_2=POOL, edge_1_0=C3, edge_3_1=SKIP, edge_3_0=C3)
    assert left != right and np.array_equal(encode_paths(left), encode_paths(right))
    # and a cell whose paths differ does not
    assert not np.array_equal(encode_paths(left), encode_paths(cell(edge_1_0=C1, edge_3_1=C3, edge_3_0=C3)))


def test_over_the_whole_space_at_most_four_paths_and_fewer_vectors_than_cells():
    encoded = [encode_paths(arch) for arch in all_archs()]
    vectors = {vector.tobytes() for vector in encoded}
    assert max(vector.sum() for vector in encoded) <= 4
    # every cell without none has all four paths; the all-none cells' shared zero vector makes it lossy
    assert 4 ** 6 <= len(vectors) < len(OPS) ** 6


def test_the_encoder_reads_configurations_of_the_space():
    space = NB201Space()
    archs = [Arch([SKIP] * 6), cell(), cell(edge_3_0=C3)]
    rows = space.path_encoder().many([space.to_config(a) for a in archs])
    assert rows.shape == (3, WIDTH) and [ones(r) for r in rows] == [{0, 4, 20}, set(), {2}]
    assert isinstance(space.path_encoder(), NB201PathEncoder)


# --- who provides it ---------------------------------------------------------------------------------------------

def test_nb201_and_the_declared_edge_cells_declare_paths():
    assert spaces_with(PATHS) == ["nb201", "nb201_declared", "tiny_cell"]
    assert PATHS in NB201Space.capabilities and PATHS not in NB201HPOSpace.capabilities
    with pytest.raises(CapabilityError, match="search_space=nb201_hpo cannot encode its configurations by paths"):
        NB201HPOSpace().path_encoder()


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.mark.parametrize("optimizer", ["bananas", "npenas"])
@pytest.mark.parametrize("space,encoding,expected", [
    ("nb201", "auto", "path"), ("nb201", "path", "path"), ("nb201", "onehot", "onehot"),
    ("fcnet", "auto", "onehot"), ("hpobench_mlp", "auto", "onehot"), ("hpobench_mlp", "onehot", "onehot"),
])
def test_auto_is_path_where_the_space_has_one_else_onehot(optimizer, space, encoding, expected):
    cfg = composed([f"search_space={space}", f"optimizer={optimizer}", f"optimizer.encoding={encoding}"])
    built = instantiate(cfg.search_space)
    kwargs = encoder_kwargs(cfg, built)
    assert (kwargs["encoder"] is not None) == (expected == "path")
    optimizer_ = instantiate(cfg.optimizer)(configspace=built.configspace, seed=0, **kwargs)
    assert optimizer_.settings_used()["encoding"] == expected
    assert optimizer_.settings_used()["n_features"] == (WIDTH if expected == "path" else optimizer_.features.width)


@pytest.mark.parametrize("optimizer,expected", [("bananas", "path"), ("npenas", "onehot")])
def test_defaults_on_nb201_bananas_the_papers_path_npenas_onehot(optimizer, expected):
    cfg = composed([f"optimizer={optimizer}"])
    space = instantiate(cfg.search_space)
    built = instantiate(cfg.optimizer)(configspace=space.configspace, seed=0, **encoder_kwargs(cfg, space))
    assert built.encoding == expected
    assert cfg.optimizer.encoding == {"bananas": "auto", "npenas": "onehot"}[optimizer]


@pytest.mark.parametrize("space", ["fcnet", "hpobench_mlp"])
def test_path_on_a_space_without_one_is_refused_in_one_line(space):
    cfg = composed([f"search_space={space}", "optimizer=bananas", "optimizer.encoding=path"])
    with pytest.raises(ConfigError) as err:
        encoder_kwargs(cfg, instantiate(cfg.search_space))
    message = str(err.value)
    assert "\n" not in message
    assert message == (f"optimizer.encoding=path needs a space with a path encoding, and search_space={space} "
                       "has none (spaces with one: nb201, nb201_declared, tiny_cell); use optimizer.encoding=auto or "
                       "onehot")


def test_optimizers_without_an_encoder_get_none_and_bad_encodings_are_one_line():
    assert encoder_kwargs(composed(["optimizer=rea"]), NB201Space()) == {}
    with pytest.raises(ConfigError, match="^unknown optimizer.encoding 'paths'; valid: auto, path, onehot$"):
        encoder_kwargs(composed(["optimizer=bananas", "optimizer.encoding=paths"]), NB201Space())
    from nas_exp.optimizers.bananas import Bananas

    with pytest.raises(UserError, match="optimizer.encoding=path for optimizer=bananas needs the search space's"):
        Bananas(NB201Space().configspace, seed=0, encoding="path")


# --- a real run ------------------------------------------------------------------------------------------------

def run(tmp_path: Path, store_root: Path, name: str, overrides: list[str]) -> tuple[list[dict], dict]:
    cfg = composed(["progress=false", "budget.max_evaluations=14", "optimizer=bananas", "optimizer.n_initial=4",
                    "optimizer.batch_size=5", "optimizer.epochs=30", *overrides])
    run_in_store(cfg, tmp_path / name, store_root)
    with open(tmp_path / name / "trajectory.csv", newline="") as handle:
        rows = [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(handle)]
    return rows, json.loads((tmp_path / name / "result.json").read_text())


@pytest.mark.usefixtures("torch_one_thread")
def test_a_short_bananas_run_on_paths_is_deterministic_and_says_what_it_used(tmp_path, store_root):
    rows, result = run(tmp_path, store_root, "first", [])
    again, _ = run(tmp_path, store_root, "again", [])
    onehot, onehot_result = run(tmp_path, store_root, "onehot", ["optimizer.encoding=onehot"])
    assert len(rows) == 14 and rows == again, "same seed, different trajectory"
    assert result["optimizer_settings"] == {"encoding": "path", "n_features": 84}
    assert result["config"]["optimizer"]["encoding"] == "auto"
    assert onehot_result["optimizer_settings"] == {"encoding": "onehot", "n_features": 30}
    assert [r["arch"] for r in rows[:4]] == [r["arch"] for r in onehot[:4]]  # the same random initial design
    assert [r["arch"] for r in rows[4:]] != [r["arch"] for r in onehot[4:]]  # then the features decide


# --- declared edge cells (nas_exp/search_spaces/cell_paths.py) ---------------------------------------------------

def declared_space(name: str) -> DeclaredCellSpace:
    return DeclaredCellSpace.from_yaml(REPO / "conf" / "search_space" / f"{name}.yaml")


def test_nb201_declared_encodes_every_cell_exactly_as_nb201():
    declared, nb201 = declared_space("nb201_declared"), NB201Space()
    encoder = declared.path_encoder()
    assert isinstance(encoder, CellPathEncoder) and encoder.name == "path" and encoder.width == WIDTH
    # the same 84 features in the same order: feature i is the op sequence of NB201's column i
    assert [path_column(ops) for ops in encoder.features] == list(range(WIDTH))
    assert declared_paths.node_paths(declared.decl) == NODE_PATHS and declared_paths.path_ops(declared.decl) == PATH_OPS
    archs = list(declared.canonical_archs())
    assert len(archs) == 15_625
    ours = encoder.many([declared.to_config(arch) for arch in archs])
    theirs = nb201.path_encoder().many([nb201.to_config(declared._nb201_arch(arch)) for arch in archs])
    assert ours.shape == theirs.shape == (15_625, WIDTH) and np.array_equal(ours, theirs)
    # a configuration given as a mapping (no vector to decode) is encoded the same
    config = declared.to_config(archs[4321])
    assert np.array_equal(encoder(dict(config)), ours[4321]) and ours[4321].any()


def test_tiny_cell_paths_by_hand():
    space = declared_space("tiny_cell")  # 0->1 and 1->2: none|skip|conv3x3; 0->2: skip|conv1x1
    encoder = space.path_encoder()
    assert declared_paths.node_paths(space.decl) == ((0, 2), (0, 1, 2))
    assert declared_paths.path_ops(space.decl) == (SKIP, C3, C1)  # first named: cell.ops, then 0->2's own conv1x1
    assert encoder.features == ((SKIP,), (C1,), (SKIP, SKIP), (SKIP, C3), (C3, SKIP), (C3, C3))
    assert PATHS in space.capabilities and encoder.width == 6
    rows = encoder.many([space.to_config(arch) for arch in [("none", C1, C3), (C3, SKIP, C3), (SKIP, C1, "none")]])
    assert [ones(row) for row in rows] == [{1}, {0, 5}, {1}]  # none on 0->1 or 1->2 cuts the path through node 1


def inline_cell(edges: list, nodes: int = 4) -> DeclaredCellSpace:
    return DeclaredCellSpace(name="inline", source="inline.yaml", cell={"nodes": nodes, "edges": edges},
                             macro={"widths": [1]})


def test_per_edge_ops_give_only_the_sequences_some_path_can_carry():
    space = inline_cell([{"edge": "0->1", "ops": ["none", C3]}, {"edge": "0->2", "ops": [POOL]},
                         {"edge": "0->3", "ops": ["none"]}, {"edge": "1->3", "ops": [SKIP]},
                         {"edge": "2->3", "ops": [C1, "none"]}])
    encoder = space.path_encoder()
    # 0->3 only offers none: no length-1 feature; 0->1->3 carries conv3-skip, 0->2->3 pool-conv1; no mixed ones
    assert encoder.features == ((C3, SKIP), (POOL, C1))
    assert ones(encoder(space.to_config((C3, POOL, "none", SKIP, "none")))) == {0}
    assert ones(encoder(space.to_config(("none", POOL, "none", SKIP, C1)))) == {1}


def test_a_cell_whose_paths_carry_nothing_has_no_path_encoding():
    space = inline_cell([{"edge": "0->1", "ops": ["none"]}], nodes=2)
    with pytest.raises(UserError, match="^search_space=inline has no input-output path that can carry data .* "
                                        "use optimizer.encoding=onehot$"):
        space.path_encoder()


def test_node_input_cells_have_no_path_encoding():
    darts = instantiate(composed(["search_space=darts"]).search_space)
    assert PATHS not in darts.capabilities
    with pytest.raises(CapabilityError, match="search_space=darts cannot encode its configurations by paths"):
        darts.path_encoder()


@pytest.mark.parametrize("space,width", [("tiny_cell", 6), ("nb201_declared", 84)])
def test_bananas_on_a_declared_cell_uses_its_paths(space, width):
    cfg = composed([f"search_space={space}", "optimizer=bananas"])
    built = instantiate(cfg.search_space)
    optimizer = instantiate(cfg.optimizer)(configspace=built.configspace, seed=0, **encoder_kwargs(cfg, built))
    assert optimizer.settings_used() == {"encoding": "path", "n_features": width}


@pytest.mark.usefixtures("torch_one_thread")
def test_a_bananas_run_on_nb201_declared_is_the_run_on_nb201(tmp_path, store_root):
    rows, result = run(tmp_path, store_root, "nb201", [])
    declared, declared_result = run(tmp_path, store_root, "declared", ["search_space=nb201_declared"])
    assert declared_result["optimizer_settings"] == result["optimizer_settings"] == {"encoding": "path",
                                                                                     "n_features": 84}
    assert len(rows) == 14 and declared == rows


@pytest.mark.parametrize("space", ["nb201_declared", "tiny_cell", "darts", "chain_cnn"])
def test_capabilities_known_before_building_are_those_built(space):
    node = OmegaConf.load(REPO / "conf" / "search_space" / f"{space}.yaml")
    assert space_capabilities(node) == instantiate(composed([f"search_space={space}"]).search_space).capabilities
