"""The DARTS cell space in the space language (conf/search_space/darts.yaml): DARTS' ops (parameter counts by
hand-computed formulas, shapes at stride 1 and 2), the node-input-choice cell compiled to a ConfigSpace with
conditions, the DARTS macro skeleton, the DARTS-V2 genotype's parameter count, and train mode on it."""

from __future__ import annotations

import pytest

from nas_exp.errors import UserError

pytestmark = pytest.mark.usefixtures("torch_one_thread")
torch = pytest.importorskip("torch")


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# op -> its parameter count on C channels at stride 1 and 2 (DARTS' operations.py, affine BatchNorms: 2C each)
OP_PARAMS = {
    "none": (lambda c: 0, lambda c: 0),
    "skip_connect": (lambda c: 0, lambda c: 2 * c * (c // 2) + 2 * c),       # FactorizedReduce at stride 2
    "avg_pool_3x3": (lambda c: 0, lambda c: 0),
    "max_pool_3x3": (lambda c: 0, lambda c: 0),
    "sep_conv_3x3": (lambda c: 2 * (9 * c + c * c + 2 * c),) * 2,            # 2 x (dw 3x3, pw 1x1, BN)
    "sep_conv_5x5": (lambda c: 2 * (25 * c + c * c + 2 * c),) * 2,
    "dil_conv_3x3": (lambda c: 9 * c + c * c + 2 * c,) * 2,                   # dw 3x3 dil 2, pw 1x1, BN
    "dil_conv_5x5": (lambda c: 25 * c + c * c + 2 * c,) * 2,
}


@pytest.mark.parametrize("op", sorted(OP_PARAMS))
@pytest.mark.parametrize("stride", [1, 2])
def test_darts_op_parameters_and_shapes(op, stride):
    from nas_exp.models.registry import build_registered_op, is_zero_op

    for channels, size in ((8, 8), (6, 7)):
        module = build_registered_op(op, channels, stride=stride)
        assert _params(module) == OP_PARAMS[op][stride - 1](channels)
        out = module(torch.randn(2, channels, size, size))
        expected = size if stride == 1 else (size + 1) // 2
        assert out.shape == (2, channels, expected, expected)
    assert is_zero_op(op) == (op == "none")


def test_darts_op_definitions():
    from torch import nn

    from nas_exp.models.registry import FactorizedReduce, build_registered_op

    sep = build_registered_op("sep_conv_5x5", 4, stride=2)
    convs = [m for m in sep if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.padding, c.groups) for c in convs] == [
        ((5, 5), (2, 2), (2, 2), 4), ((1, 1), (1, 1), (0, 0), 1), ((5, 5), (1, 1), (2, 2), 4), ((1, 1), (1, 1), (0, 0), 1)]
    assert all(c.bias is None for c in convs) and sum(isinstance(m, nn.ReLU) for m in sep) == 2
    dil = build_registered_op("dil_conv_5x5", 4)
    assert (dil[1].kernel_size, dil[1].padding, dil[1].dilation, dil[1].groups) == ((5, 5), (4, 4), (2, 2), 4)
    assert isinstance(build_registered_op("skip_connect", 4, stride=2), FactorizedReduce)
    assert isinstance(build_registered_op("skip_connect", 4), nn.Identity)
    pool = build_registered_op("avg_pool_3x3", 4, stride=2)
    assert isinstance(pool, nn.AvgPool2d) and pool.count_include_pad is False
    x = torch.randn(1, 2, 4, 4)
    ones = torch.ones(1, 1, 4, 4)
    assert torch.allclose(build_registered_op("avg_pool_3x3", 1)(ones), ones)  # in-image mean: no zero padding
    assert torch.allclose(build_registered_op("avg_pool_3x3", 1, stride=2)(ones), torch.ones(1, 1, 2, 2))
    assert torch.equal(build_registered_op("max_pool_3x3", 2, stride=2)(x), nn.functional.max_pool2d(x, 3, 2, 1))
    assert torch.equal(build_registered_op("none", 2, stride=2)(x), torch.zeros(1, 2, 2, 2))
    with pytest.raises(UserError, match="needs an even number of channels, got 5"):
        build_registered_op("skip_connect", 5, stride=2)
    with pytest.raises(UserError, match="op sep_conv_3x3 has stride 1 or 2, got 3"):
        build_registered_op("sep_conv_3x3", 4, stride=3)


# -- the DARTS cell space --------------------------------------------------------------------------------------
import copy  # noqa: E402
import csv  # noqa: E402

import yaml  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from conftest import REPO  # noqa: E402
from nas_exp.search_spaces.base import CELL_DAG, NETWORK  # noqa: E402
from nas_exp.search_spaces.declared import DeclarationError, DeclaredCellSpace  # noqa: E402
from nas_exp.search_spaces.declared_inputs import NodeInputCellSpace, from_genotype  # noqa: E402

DARTS_YAML = REPO / "conf" / "search_space" / "darts.yaml"
# DARTS-V2 (quark0/darts cnn/genotypes.py; the paper's second-order cell), normal_concat = reduce_concat = [2..5]
DARTS_V2 = from_genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 0),
            ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)])


@pytest.fixture(scope="module")
def darts() -> NodeInputCellSpace:
    return DeclaredCellSpace.from_yaml(DARTS_YAML)


def test_darts_configspace_is_node_input_choices_with_conditions(darts):
    from ConfigSpace import InCondition

    assert isinstance(darts, NodeInputCellSpace) and darts.capabilities == {NETWORK, CELL_DAG}
    names = {hp.name for hp in darts.configspace.values()}
    for t in ("normal", "reduction"):
        assert f"{t}_inputs_2" not in names  # node 2 has exactly its 2 predecessors
        assert [tuple(darts.configspace[f"{t}_inputs_{j}"].choices) for j in (3, 4)] == [
            ("0_1", "0_2", "1_2"), ("0_1", "0_2", "0_3", "1_2", "1_3", "2_3")]
        assert len(darts.configspace[f"{t}_inputs_5"].choices) == 10
        assert darts.configspace[f"{t}_edge_5_4"].choices == tuple(darts.decl.ops)
        assert darts.configspace[f"{t}_edge_3_1"].meta == {"absent": "none"}
    assert len(names) == 2 * (3 + 14) and len(darts.decl.ops) == 8
    conditions = darts.configspace.conditions
    assert len(conditions) == 2 * 12 and all(isinstance(c, InCondition) for c in conditions)
    by_child = {c.child.name: c for c in conditions}
    assert by_child["normal_edge_4_2"].parent.name == "normal_inputs_4"
    assert set(by_child["normal_edge_4_2"].values) == {"0_2", "1_2", "2_3"}
    assert len(darts) == (8 ** 8 * 3 * 6 * 10) ** 2
    for config in darts.configspace.sample_configuration(30):
        arch = darts.from_config(config)
        assert darts.to_config(arch) == config and darts.from_key(darts.key(arch)) == arch
        assert all(len(node) == 2 and node[0][1] < node[1][1] for cell in arch for node in cell)


def test_darts_v2_keys_and_config(darts):
    key = darts.key(DARTS_V2)
    assert key.startswith("normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+"
                          "|skip_connect~0|sep_conv_3x3~1|+|skip_connect~0|dil_conv_3x3~2|;reduction=")
    config = darts.to_config(DARTS_V2)
    assert config["normal_inputs_5"] == "0_2" and "normal_edge_5_1" not in dict(config)
    assert darts.from_config(config) == DARTS_V2 == darts.from_key(key)
    with pytest.raises(UserError, match="normal node 3 of darts takes 2 distinct inputs among nodes 0..2, got"):
        darts.to_config(((DARTS_V2[0][0], (("skip_connect", 1), ("skip_connect", 1)), *DARTS_V2[0][2:]), DARTS_V2[1]))
    with pytest.raises(UserError, match="malformed darts key"):
        darts.from_key("normal=|sep_conv_3x3~0|")


def test_darts_v2_decodes_to_the_papers_parameter_count(darts):
    """C=36, 20 layers (N=6), CIFAR-10: DARTS' train.py logs 3.349342 MB (utils.count_parameters_in_MB leaves the
    auxiliary head out), the paper's 3.3M. The auxiliary head (AuxiliaryHeadCIFAR on 576 channels) would add
    576*128 + 256 + 128*768*4 + 1536 + 768*10 + 10 = 476,426 (3,825,768 in all); it is not built here."""
    net = darts.build_network(DARTS_V2, seed=0, C=36, N=6, num_classes=10)
    assert len(net.cells) == 20 and [i for i, c in enumerate(net.cells) if c.reduction] == [6, 13]
    assert _params(net) == 3_349_342

    def expected(C: int, N: int) -> int:  # by hand from the ops' formulas, layer by layer
        total, c_pp = 27 * 3 * C + 6 * C, 3 * C
        c_p = c_pp
        for layer in range(3 * N + 2):
            reduction = layer in (N, 2 * N + 1)
            c = C * 2 ** ((layer >= N) + (layer >= 2 * N + 1))
            # 5 sep_conv_3x3 + 1 dil_conv_3x3 in a normal cell; a reduction cell: max pools, skips from node 2
            pre = c_pp * c + 2 * c + c_p * c + 2 * c  # ReLUConvBN or FactorizedReduce: same count
            ops = 0 if reduction else 5 * 2 * (9 * c + c * c + 2 * c) + (9 * c + c * c + 2 * c)
            total += pre + ops
            c_pp, c_p = c_p, 4 * c
        return total + c_p * 10 + 10

    assert expected(36, 6) == 3_349_342
    small = darts.build_network(DARTS_V2, seed=0, C=4, N=1, num_classes=10, in_channels=3)
    assert _params(small) == expected(4, 1)
    out = small(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)


DARTS_BASE = yaml.safe_load(DARTS_YAML.read_text())
DARTS_ERRORS = {
    "bad choice": (("cell", "choice", "inputs"), "cell.choice: unknown value 'inputs'; valid: edge_ops, node_inputs"),
    "edge key in a node-input cell": (("cell", "nodes", 6),
                                      "cell.nodes: unknown key; valid keys: choice, inputs, intermediate, node_inputs"),
    "three inputs": (("cell", "inputs", 3), "cell.inputs: must be 2 (the darts skeleton feeds a cell"),
    "no intermediate": (("cell", "intermediate", None), "cell.intermediate: must be an int >= 1"),
    "too many node inputs": (("cell", "node_inputs", 3),
                             "cell.node_inputs: the first intermediate node has 2 predecessors and cannot pick 3"),
    "bad output": (("cell", "output", "sum"), "cell.output: unknown value 'sum'; valid: concat"),
    "bad types": (("cell", "types", ["reduction"]), "cell.types: must be [normal, reduction] (separate choices)"),
    "unknown op": (("cell", "ops", ["none", "conv_7x7"]), "cell.ops[1]: unknown op 'conv_7x7'; registered ops:"),
    "no ops": (("cell", "ops", None), "cell.ops: missing"),
    "nb201 skeleton": (("macro", "skeleton", "nb201"),
                       "macro.skeleton: node-input-choice cells are stacked by the darts skeleton"),
    "nb201 macro key": (("macro", "widths", [1, 2]), "macro.widths: unknown key; valid keys: skeleton, stem"),
    "bad reductions": (("macro", "reductions", -1), "macro.reductions: must be an int >= 0"),
    "bad multiplier": (("macro", "stem_multiplier", 0), "macro.stem_multiplier: must be an int >= 1"),
    "bad head": (("macro", "head", "bn_relu_pool_linear"), "macro.head: unknown value 'bn_relu_pool_linear'"),
    "a benchmark": ((None, "benchmark", "nb201"), "benchmark: no benchmark table holds node-input-choice cells"),
}


@pytest.mark.parametrize("case", sorted(DARTS_ERRORS))
def test_darts_declaration_errors_name_the_file_and_the_key(tmp_path, case):
    (section, key, value), expected = DARTS_ERRORS[case]
    declaration = copy.deepcopy(DARTS_BASE)
    node = declaration if section is None else declaration[section]
    if value is None:
        del node[key]
    else:
        node[key] = value
    path = tmp_path / "bad_darts.yaml"
    path.write_text(yaml.safe_dump(declaration))
    with pytest.raises(DeclarationError) as err:
        DeclaredCellSpace.from_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_an_edge_cell_refuses_the_darts_skeleton(tmp_path):
    declaration = yaml.safe_load((REPO / "conf" / "search_space" / "tiny_cell.yaml").read_text())
    declaration["macro"]["skeleton"] = "darts"
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(declaration))
    with pytest.raises(DeclarationError, match=r"tiny.yaml: macro.skeleton: edge-choice cells are stacked by the "
                                               r"nb201 skeleton \(skeleton: nb201\), got 'darts'"):
        DeclaredCellSpace.from_yaml(path)


def test_a_run_trains_darts_cells_on_digits(tmp_path, monkeypatch):
    """search_space=darts evaluation=train: evaluation.N=1 is 5 cells (1 normal, reduction, 1 normal, reduction,
    1 normal); the trajectory's keys decode back into the cells that were trained."""
    from nas_exp.app import run_experiment

    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["search_space=darts", "evaluation=train", "dataset=digits",
                                           "evaluation.C=4", "evaluation.N=1", "evaluation.epochs=1",
                                           "evaluation.recipe.steps_per_epoch=3", "evaluation.checkpoint_dir=null",
                                           "budget.max_evaluations=2", "optimizer=random", "progress=false"])
    run_experiment(cfg, tmp_path / "run")
    with open(tmp_path / "run" / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and rows[0]["arch"] != rows[1]["arch"]
    space = DeclaredCellSpace.from_yaml(DARTS_YAML)
    for row in rows:
        arch = space.from_key(row["arch"])
        assert space.key(arch) == row["arch"] and 0.0 <= float(row["valid_acc"]) <= 100.0
        assert len(space.build_network(arch, seed=0, C=4, N=1, num_classes=10, in_channels=1).cells) == 5
