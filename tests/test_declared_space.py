"""Search spaces declared in YAML (nas_exp/search_spaces/declared.py): NB201 written in the language is NB201
(ConfigSpace, keys, table rows, parameter counts, weights and outputs, a run's trajectory); a new space is one
YAML file; every declaration error is one line naming the file and the key."""

from __future__ import annotations

import copy
import csv

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir

from conftest import REPO
from nas_exp.app import run_experiment
from nas_exp.errors import UserError
from nas_exp.search_spaces.base import CELL_DAG, FINITE, NETWORK, PATHS, TABULAR
from nas_exp.search_spaces.declared import DeclarationError, DeclaredCellSpace
from nas_exp.search_spaces.nb201 import OPS, Arch, NB201Space

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NB201_YAML = REPO / "conf" / "search_space" / "nb201_declared.yaml"
TINY_YAML = REPO / "conf" / "search_space" / "tiny_cell.yaml"
CELLS = [("nor_conv_3x3",) * 6, ("none",) * 6, ("skip_connect",) * 6,
         ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "nor_conv_3x3"),
         ("avg_pool_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1")]


@pytest.fixture(scope="module")
def declared() -> DeclaredCellSpace:
    return DeclaredCellSpace.from_yaml(NB201_YAML)


def test_nb201_declared_has_nb201s_configspace(declared):
    nb201 = NB201Space()
    assert len(declared) == len(nb201) == 15_625
    ours, theirs = list(declared.configspace.values()), list(nb201.configspace.values())
    assert [hp.name for hp in ours] == [hp.name for hp in theirs]
    assert [tuple(hp.choices) for hp in ours] == [tuple(hp.choices) for hp in theirs] == [OPS] * 6
    assert [hp.meta for hp in ours] == [hp.meta for hp in theirs]
    assert declared.capabilities == nb201.capabilities == {TABULAR, NETWORK, CELL_DAG, FINITE, PATHS}
    assert sum(1 for _ in declared.canonical_archs()) == 15_625


def test_nb201_declared_converters_keys_and_rows_are_nb201s(declared):
    nb201 = NB201Space()
    rng = np.random.default_rng(0)
    for index in [0, 15_624, *rng.integers(15_625, size=40).tolist()]:
        arch = Arch.from_index(index)
        config = declared.to_config(arch)
        assert dict(config) == dict(nb201.to_config(arch))
        ours = declared.from_config(config)
        assert ours == tuple(arch) and declared.from_config(dict(config)) == ours
        assert declared.key(ours) == arch.to_str() and declared.from_key(arch.to_str()) == ours
        assert declared.table_index(ours) == index
    for config in declared.configspace.sample_configuration(20):
        assert declared.from_config(config) == tuple(nb201.from_config(config))


@pytest.mark.parametrize("cell", CELLS)
def test_nb201_declared_network_is_nb201s(declared, cell):
    torch = pytest.importorskip("torch")
    from nas_exp.models.nb201_params import nb201_parameters_mb
    from nas_exp.models.network import seeded_network
    from nas_exp.models.params import count_parameters_mb

    ours = declared.build_network(cell, seed=3, C=16, N=5, num_classes=10)
    theirs = seeded_network(Arch(cell), 3, C=16, N=5, num_classes=10)
    assert count_parameters_mb(ours) == count_parameters_mb(theirs) == pytest.approx(nb201_parameters_mb(cell))
    if cell == ("nor_conv_3x3",) * 6:
        assert round(count_parameters_mb(ours) * 1e6) == 1_531_546
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)  # same modules, same seeded weights
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ours.train(), theirs.train()
    assert torch.equal(ours(x), theirs(x))
    ours.eval(), theirs.eval()
    assert torch.equal(ours(x), theirs(x))


def test_loaded_nb201_weights_give_identical_outputs(declared):
    torch = pytest.importorskip("torch")
    from nas_exp.models.network import NB201Network

    cell = CELLS[3]
    theirs = NB201Network(Arch(cell), C=8, N=2, num_classes=7, in_channels=1)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    ours = declared.build_network(cell, seed=99, C=8, N=2, num_classes=7, in_channels=1)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    ours.eval(), theirs.eval()
    assert torch.equal(ours(x), theirs(x))


def _trajectory(run_dir):
    with open(run_dir / "trajectory.csv", newline="") as handle:
        return [{k: r[k] for k in ("n", "arch", "valid_acc", "cost", "incumbent_arch")} for r in csv.DictReader(handle)]


@pytest.mark.parametrize("optimizer", ["random", "rea", "local_search"])
def test_a_run_on_nb201_declared_is_a_run_on_nb201(store_root, tmp_path, monkeypatch, optimizer):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    rows = {}
    for space in ("nb201", "nb201_declared"):
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[f"search_space={space}", f"optimizer={optimizer}",
                                               "budget.max_evaluations=5", "progress=false"])
        run_experiment(cfg, tmp_path / space)
        rows[space] = _trajectory(tmp_path / space)
    assert len(rows["nb201"]) == 5 and rows["nb201_declared"] == rows["nb201"]
    assert len({r["arch"] for r in rows["nb201"]}) > 1


def test_a_new_space_is_one_yaml_file_trained(tmp_path, monkeypatch):
    """docs/extending.md: a cell space written into a conf folder of its own, found through Hydra's search path,
    trained on a small real data set; nothing in nas_exp changes."""
    conf = tmp_path / "conf" / "search_space"
    conf.mkdir(parents=True)
    declaration = yaml.safe_load(TINY_YAML.read_text())
    declaration["name"] = "my_cell"
    declaration["cell"]["edges"] = ["0->1", "1->2", {"edge": "0->2", "ops": ["skip_connect", "nor_conv_3x3"]}]
    (conf / "my_cell.yaml").write_text(yaml.safe_dump(declaration))
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "search_space=my_cell",
                                           "evaluation=train", "dataset=digits", "evaluation.C=4", "evaluation.N=1",
                                           "evaluation.epochs=1", "evaluation.checkpoint_dir=null", "budget.max_evaluations=2",
                                           "optimizer=random",
                                           "progress=false"])
    run_experiment(cfg, tmp_path / "run")
    rows = _trajectory(tmp_path / "run")
    assert len(rows) == 2
    space = DeclaredCellSpace.from_yaml(conf / "my_cell.yaml")
    assert len(space) == 18 and space.capabilities == {NETWORK, FINITE, PATHS, CELL_DAG}
    for row in rows:
        arch = space.from_key(row["arch"])
        assert space.key(arch) == row["arch"] and 0.0 <= float(row["valid_acc"]) <= 100.0


def test_tiny_cell_network_follows_its_declaration():
    torch = pytest.importorskip("torch")
    from nas_exp.models.params import count_parameters_mb

    space = DeclaredCellSpace.from_yaml(TINY_YAML)
    assert [hp.name for hp in space.configspace.values()] == ["edge_1_0", "edge_2_0", "edge_2_1"]
    assert space.configspace["edge_1_0"].meta == {"absent": "none"} and space.configspace["edge_2_0"].meta is None
    assert space.key(("nor_conv_3x3", "skip_connect", "none")) == "|nor_conv_3x3~0|+|skip_connect~0|none~1|"
    net = space.build_network(("nor_conv_3x3", "nor_conv_1x1", "nor_conv_3x3"), seed=0, C=4, N=2, num_classes=10,
                              in_channels=1)
    # stem 9*1*4+8; stage 1 (4 ch): per cell 2 * (9*16+8) + (16+8); reduction 4->8: 9*32+16 + 9*64+16 + 32;
    # stage 2 (8 ch): per cell 2 * (9*64+16) + (64+16); head 16 + 8*10 + 10
    expected = (44 + 2 * (2 * 152 + 24) + (304 + 592 + 32) + 2 * (2 * 592 + 80) + 106)
    assert round(count_parameters_mb(net) * 1e6) == expected
    out = net(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 10)
    zero = space.build_network(("none", "skip_connect", "none"), seed=0, C=4, N=1, num_classes=10, in_channels=1)
    x = torch.randn(2, 4, 8, 8)
    cell = zero.cells[0]
    assert torch.equal(cell(x), x)  # node 2 = skip(node 0) + none(node 1)


# -- declaration errors ---------------------------------------------------------------------------------------
BASE = yaml.safe_load(NB201_YAML.read_text())


def _set(path: str, value):
    def change(d):
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if value is _DROP:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


_DROP = object()
ERRORS = {
    "unknown op": (_set("cell.ops", ["none", "nor_conv_7x7"]),
                   "cell.ops[1]: unknown op 'nor_conv_7x7'; registered ops: avg_pool_3x3, dil_conv_3x3, dil_conv_5x5, "
                   "max_pool_3x3, none, nor_conv_1x1"),
    "empty op list": (_set("cell.ops", []), "cell.ops: the op list is empty"),
    "empty edge op list": (_set("cell.edges.2", {"edge": "1->2", "ops": []}),
                           "cell.edges[2].ops: the op list is empty"),
    "missing node": (_set("cell.edges.5", "2->4"),
                     "cell.edges[5]: edge 2->4 leads to missing node 4 (cell.nodes=4: nodes 0..3)"),
    "duplicate edge": (_set("cell.edges.5", "0->3"),
                       "cell.edges[5]: edge 0->3 is declared twice (also cell.edges[3])"),
    "cycle": (_set("cell.edges.1", "2->1"), "cell.edges: the edges form a cycle 1->2->1; a cell is a DAG"),
    "self loop": (_set("cell.edges.2", "2->2"), "cell.edges: the edges form a cycle 2->2"),
    "bad edge": (_set("cell.edges.0", "0-1"), "cell.edges[0]: an edge is 'from->to' (e.g. 0->1), got '0-1'"),
    "into input": (_set("cell.edges.0", "1->0"), "cell.edges[0]: edge 1->0 leads into node 0, the cell's input"),
    "no input": (_set("cell.nodes", 5), "cell.edges: node 4 has no input edge"),
    "out of output": (_set("cell.edges.5", "3->1"), "cell.edges[5]: edge 3->1 leaves node 3, the cell's output"),
    "not reaching the output": (lambda d: (d["cell"].update(nodes=5), d["cell"]["edges"].append("0->4")),
                                "cell.edges: node 1 does not reach the output node 4"),
    "bad combine": (_set("cell.combine", "max"), "cell.combine: unknown value 'max'; valid: sum"),
    "unknown cell key": (_set("cell.node", 4), "cell.node: unknown key; valid keys: choice, nodes, combine, ops, edges"),
    "bad nodes": (_set("cell.nodes", 1), "cell.nodes: must be an int >= 2"),
    "unknown stem": (_set("macro.stem", "conv7x7"), "macro.stem: unknown value 'conv7x7'; valid: conv3x3_bn"),
    "bad width": (_set("macro.widths.1", 0), "macro.widths[1]: must be an int >= 1 (a multiple of C), got 0"),
    "empty widths": (_set("macro.widths", []), "macro.widths: must be a non-empty list"),
    "unknown macro key": (_set("macro.stages", 3), "macro.stages: unknown key; valid keys: skeleton, stem, widths"),
    "no macro": (_set("macro", _DROP), "macro: missing"),
    "unknown benchmark": (_set("benchmark", "nb301"), "benchmark: unknown value 'nb301'; valid: nb201"),
    "benchmark of another cell": (_set("macro.widths", [1, 2]),
                                  "benchmark: nb201 rows were trained with NB201's skeleton"),
    "op outside the benchmark": (_set("cell.ops", ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                   "avg_pool_3x3", "nb201_missing_op"]), None),
    "unknown top key": (_set("cells", 3), "cells: unknown key; valid keys: _target_, name, benchmark, cell"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_declaration_errors_name_the_file_and_the_key(tmp_path, case):
    from torch import nn

    from nas_exp.models.registry import OP_REGISTRY, register_op

    change, expected = ERRORS[case]
    declaration = copy.deepcopy(BASE)
    change(declaration)
    path = tmp_path / "bad_space.yaml"
    path.write_text(yaml.safe_dump(declaration))
    if expected is None:  # a registered op that the nb201 table does not hold
        register_op("nb201_missing_op")(type("MissingOp", (nn.Identity,), {"__init__": lambda self, c, s=1: None}))
        expected = "cell.edges[0]: op 'nb201_missing_op' is not in the nb201 table"
    try:
        with pytest.raises(DeclarationError) as err:
            DeclaredCellSpace.from_yaml(path)
    finally:
        OP_REGISTRY.pop("nb201_missing_op", None)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_a_bad_declaration_through_hydra_names_its_file(tmp_path):
    conf = tmp_path / "conf" / "search_space"
    conf.mkdir(parents=True)
    declaration = copy.deepcopy(BASE)
    declaration["name"] = "broken"
    declaration["cell"]["edges"][5] = "2->4"
    (conf / "broken.yaml").write_text(yaml.safe_dump(declaration))
    from nas_exp.components import build

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "search_space=broken"])
    with pytest.raises(UserError, match=r"search_space/broken.yaml: cell.edges\[5\]: edge 2->4 leads to missing"):
        build(cfg.search_space)


def test_registering_an_op_is_one_decorated_class():
    from torch import nn

    from nas_exp.models.registry import OP_REGISTRY, build_registered_op, register_op

    try:
        @register_op("test_double")
        class Double(nn.Module):
            def __init__(self, channels: int, stride: int = 1) -> None:
                super().__init__()

            def forward(self, x):
                return 2 * x

        assert "test_double" in OP_REGISTRY and isinstance(build_registered_op("test_double", 4), Double)
        with pytest.raises(ValueError, match="registered twice"):
            register_op("test_double")(type("Other", (nn.Identity,), {}))
    finally:
        OP_REGISTRY.pop("test_double", None)
    with pytest.raises(UserError, match="unknown op 'test_double'; registered ops: avg_pool_3x3, dil_conv_3x3"):
        build_registered_op("test_double", 4)
    with pytest.raises(UserError, match="op nor_conv_3x3 has no stride-2 form"):
        build_registered_op("nor_conv_3x3", 4, stride=2)
