"""One-shot search on declared spaces: the supernet, sampling and discretization come from the space's
``supernet_layout()``; every one-shot method runs on an edge cell (tiny_cell, NB201 as a declaration) and on DARTS'
node-input cells, unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import REPO, run_cli
from nas_exp.datasets.registry import load_dataset
from nas_exp.models.declared_network import seeded_declared_network
from nas_exp.one_shot import DARTS, ENAS, GDAS, RSWS, SPOS
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.sampling import gumbel_noise, gumbel_softmax_hard
from nas_exp.one_shot.trajectory import read_one_shot_trajectory
from nas_exp.one_shot.supernet import EdgeCellSuperNet, NodeInputSearchCell, SearchCell, build_supernet
from nas_exp.search_spaces.declared import DeclaredCellSpace
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.training.device_data import DeviceData

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY_CELL = DeclaredCellSpace.from_yaml(REPO / "conf" / "search_space" / "tiny_cell.yaml")
DARTS_SPACE = DeclaredCellSpace.from_yaml(REPO / "conf" / "search_space" / "darts.yaml")
NB201_DECLARED = DeclaredCellSpace.from_yaml(REPO / "conf" / "search_space" / "nb201_declared.yaml")
SPACES = {"tiny_cell": TINY_CELL, "darts": DARTS_SPACE}


def test_nb201_declared_carries_nb201s_supernet():
    """Same layout (ops, edges, decisions), same supernet weights from the same seed, same outputs."""
    ours, theirs = NB201_DECLARED.supernet_layout(), NB201Space().supernet_layout()
    assert ours.ops == theirs.ops and ours.edges == theirs.edges and ours.decision_sizes == theirs.decision_sizes
    torch.manual_seed(0)
    a = build_supernet(ours, C=4, N=1)
    torch.manual_seed(0)
    b = build_supernet(theirs, C=4, N=1)
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    x = torch.randn(2, 3, 8, 8)
    weights = torch.softmax(torch.randn(ours.shape), dim=-1)
    assert torch.equal(a.eval()(x, weights=weights), b.eval()(x, weights=weights))
    cell = NB201_DECLARED.from_key("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert ours.path(cell) == theirs.path(NB201Space().from_key(NB201_DECLARED.key(cell)))


def test_node_input_decisions_are_a_bijection_onto_the_spaces_cells():
    layout = DARTS_SPACE.supernet_layout()
    assert layout.n_cells == len(DARTS_SPACE) and layout.shape == (28, 8)  # 14 edges per cell type, 8 ops
    rng = np.random.default_rng(0)
    for _ in range(50):
        decisions = layout.sample_decisions(rng)
        cell = layout.cell(decisions)
        assert DARTS_SPACE.from_config(DARTS_SPACE.to_config(cell)) == cell  # a cell of the space
        assert layout.decisions(cell) == decisions
        assert layout.code_of(decisions) < layout.n_cells
        path = layout.path(cell)
        for t in range(2):
            for j in range(2, 6):
                rows = [r for r, e in enumerate(layout.edges) if e.cell_type == t and e.to == j]
                assert sum(path[r] >= 0 for r in rows) == 2  # each node takes two inputs
    cells = layout.distinct_cells(20, np.random.default_rng(1))
    assert len(set(cells)) == 20 and cells == layout.distinct_cells(20, np.random.default_rng(1))


def test_darts_discretization_takes_the_two_strongest_non_zero_inputs():
    layout = DARTS_SPACE.supernet_layout()
    alphas = np.zeros(layout.shape)
    ops = layout.ops
    row = {(e.cell_type, e.frm, e.to): r for r, e in enumerate(layout.edges)}
    alphas[row[0, 0, 4], ops.index("none")] = 9.0  # none is never chosen and gives no strength ...
    alphas[row[0, 0, 4], ops.index("sep_conv_3x3")] = 0.5  # ... so this edge is weak
    alphas[row[0, 1, 4], ops.index("dil_conv_5x5")] = 3.0
    alphas[row[0, 3, 4], ops.index("max_pool_3x3")] = 2.0
    cell = layout.discretize(alphas)
    node4 = cell[0][2]
    assert node4 == (("dil_conv_5x5", 1), ("max_pool_3x3", 3))
    assert all(op != "none" for cells in cell for node in cells for op, _ in node)
    assert DARTS_SPACE.from_config(DARTS_SPACE.to_config(cell)) == cell


def test_an_edge_offering_fewer_ops_is_masked_everywhere():
    """tiny_cell's edge 0->2 offers skip_connect and nor_conv_1x1 only: its other columns never win an argmax,
    get no softmax weight and are never sampled."""
    layout = TINY_CELL.supernet_layout()
    row = next(r for r, e in enumerate(layout.edges) if (e.frm, e.to) == (0, 2))
    offered = {layout.ops[c] for c in layout.edges[row].columns}
    assert offered == {"skip_connect", "nor_conv_1x1"} and not layout.full
    alphas = np.zeros(layout.shape)
    alphas[row, layout.ops.index("nor_conv_3x3")] = 10.0
    assert layout.discretize(alphas)[1] in offered
    method = DARTS(layout=layout, seed=0, C=4, N=1)
    method.setup(10, 1, torch.device("cpu"))
    weights = method.arch_weights(method.alphas)
    assert torch.all(weights[torch.from_numpy(~layout.mask)] == 0)
    assert torch.allclose(weights.sum(dim=1), torch.ones(layout.shape[0]))
    for seed in range(20):
        _, path = gumbel_softmax_hard(method.masked(method.alphas), 1.0,
                                      gumbel_noise(layout.shape, np.random.default_rng(seed)))
        assert all(layout.mask[r, c] for r, c in enumerate(path))
    assert all(layout.path(layout.sample_cell(np.random.default_rng(s)))[row] in layout.edges[row].columns
               for s in range(20))


def test_edge_supernet_on_one_path_computes_the_declared_network():
    layout = TINY_CELL.supernet_layout()
    torch.manual_seed(0)
    supernet = build_supernet(layout, C=4, N=2, num_classes=10, in_channels=1)
    assert isinstance(supernet, EdgeCellSuperNet)
    cell = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect")
    network = seeded_declared_network(TINY_CELL.decl, cell, seed=1, C=4, N=2, num_classes=10, in_channels=1)
    path = layout.path(cell)
    network.stem.load_state_dict(supernet.stem.state_dict())
    for mine, theirs in zip(supernet.cells, network.cells):
        if isinstance(mine, SearchCell):
            for pos, edge in enumerate(theirs.edges):
                edge.load_state_dict(mine.edges[pos].candidates[mine.edges[pos].slot(path[pos])].state_dict(),
                                     strict=False)
        else:
            theirs.load_state_dict(mine.state_dict())
    network.lastact.load_state_dict(supernet.lastact.state_dict())
    network.classifier.load_state_dict(supernet.classifier.state_dict())
    x = torch.randn(3, 1, 8, 8)
    for train in (False, True):
        supernet.train(train)
        network.train(train)
        expected = network(x)
        assert torch.allclose(supernet(x, path=path), expected, atol=1e-5)


def test_darts_supernet_runs_only_the_path_and_trains_every_alpha():
    layout = DARTS_SPACE.supernet_layout()
    torch.manual_seed(0)
    supernet = build_supernet(layout, C=4, N=1, num_classes=10, in_channels=1)
    cells = [c for c in supernet.cells if isinstance(c, NodeInputSearchCell)]
    assert len(cells) == 5 and [c.reduction for c in cells] == [False, True, False, True, False]
    calls: set[tuple[int, int, int]] = set()
    for i, cell in enumerate(cells):
        for pos, edge in enumerate(cell.edges):
            for k, op in enumerate(edge.candidates):
                op.register_forward_hook(lambda m, a, o, key=(i, pos, k): calls.add(key))
    cell = layout.sample_cell(np.random.default_rng(3))
    path = layout.path(cell)
    x = torch.randn(2, 1, 8, 8)
    assert supernet(x, path=path).shape == (2, 10)
    expected = {(i, pos, c.edges[pos].slot(path[c.rows[pos]])) for i, c in enumerate(cells)
                for pos in range(len(c.edges)) if path[c.rows[pos]] >= 0}
    assert calls == expected and len(expected) == 5 * 8  # 4 nodes x 2 inputs per cell
    alphas = torch.nn.Parameter(1e-3 * torch.randn(layout.shape))
    supernet(x, weights=torch.softmax(alphas, dim=-1)).sum().backward()
    live = [c for c, op in enumerate(layout.ops) if op != "none"]
    assert bool((alphas.grad[:, live] != 0).all())


@pytest.fixture(scope="module")
def digits() -> DeviceData:
    return DeviceData.from_dataset(load_dataset("digits"), torch.device("cpu"))


METHODS = {
    "darts": lambda **kw: DARTS(**kw),
    "darts2": lambda **kw: DARTS(order=2, **kw),
    "gdas": lambda **kw: GDAS(**kw),
    "rsws": lambda **kw: RSWS(select_num=4, epoch_candidates=2, **kw),
    "enas": lambda **kw: ENAS(controller_steps=1, controller_aggregate=2, select_num=3, **kw),
    "spos": lambda **kw: SPOS(population_size=4, n_iterations=1, n_parents=2, epoch_candidates=2, **kw),
}


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("method_name", list(METHODS))
def test_every_one_shot_method_searches_a_declared_space(method_name, space_name, digits):
    space = SPACES[space_name]
    settings = {"epochs": 2, "C": 4, "N": 1, "batch_size": 32, "steps_per_epoch": 1, "eval_batch_size": 128,
                "eval_batches": 1, "select_batches": 1}

    def search():
        method = METHODS[method_name](layout=space.supernet_layout(), seed=1, **settings)
        records = []
        outcome = method.search(SearchBatches(digits, 32, 1, eval_batch_size=128, steps_per_epoch=1),
                                on_epoch=records.append)
        return outcome, records

    outcome, records = search()
    assert space.from_config(space.to_config(outcome.arch)) == outcome.arch  # a cell of the space
    assert [r.epoch for r in records] == [1, 2] and records[-1].arch == outcome.arch
    assert all(0.0 <= r.oneshot_valid_acc <= 100.0 and np.isfinite(r.train_loss) for r in records)
    if method_name in ("gdas", "spos"):  # seeded: the same search again
        again, again_records = search()
        assert again.arch == outcome.arch
        assert [(r.arch, r.oneshot_valid_acc, r.train_loss) for r in again_records] == \
            [(r.arch, r.oneshot_valid_acc, r.train_loss) for r in records]


@pytest.mark.slow
def test_one_shot_darts_on_the_darts_space_from_the_command_line(tmp_path, store_root, monkeypatch):
    """run.py search_space=darts optimizer=darts: no table, so the final cell is trained stand-alone."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run_dir = tmp_path / "run"
    done = run_cli(["search_space=darts", "optimizer=darts", "evaluation=train", "dataset=digits",
                    "evaluation.device=cpu", "optimizer.epochs=2", "optimizer.C=4", "optimizer.N=1",
                    "optimizer.batch_size=32", "optimizer.steps_per_epoch=1", "optimizer.eval_batch_size=128",
                    "optimizer.train_final=true", "evaluation.C=4", "evaluation.N=1", "evaluation.epochs=1",
                    "evaluation.recipe.steps_per_epoch=2", "evaluation.report_test=false",
                    f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    result = json.loads((run_dir / "result.json").read_text())
    cell = DARTS_SPACE.from_key(result["incumbent"]["arch"])
    assert DARTS_SPACE.key(cell) == result["incumbent"]["arch"]
    final = [t for t in result["one_shot"]["standalone"] if t["role"] == "final"]
    assert len(final) == 1 and final[0]["arch"] == result["incumbent"]["arch"]
    assert result["incumbent"]["valid_acc"] == final[0]["valid_acc"] and 0 <= final[0]["valid_acc"] <= 100
    assert result["rank_correlation"]["n_cells"] == 0 and result["one_shot"]["final_cell_table"] == {}
    assert "has no table" in result["evaluation"]
    rows = read_one_shot_trajectory(run_dir / "trajectory.csv")
    assert [r.epoch for r in rows] == [1, 2] and all(r.table_valid_acc is None for r in rows)
    assert rows[-1].arch == result["incumbent"]["arch"]


MY_CELL = """\
_target_: nas_exp.search_spaces.declared.DeclaredCellSpace
name: my_oneshot_cell
cell:
  nodes: 4
  combine: sum
  ops: [none, skip_connect, nor_conv_1x1, avg_pool_3x3]
  edges:
    - 0->1
    - 0->2
    - {edge: 1->2, ops: [max_pool_3x3, sep_conv_3x3]}
    - 1->3
    - 2->3
macro:
  stem: conv3x3_bn
  widths: [1, 2]
  reduction: resnet_basic
  head: bn_relu_pool_linear
"""


@pytest.mark.parametrize("optimizer", ["gdas", "rsws"])
def test_a_new_yaml_space_carries_one_shot_search(tmp_path, monkeypatch, optimizer):
    """docs/extending.md: a cell space written into a conf folder of its own (here with DARTS' ops beside NB201's
    on one edge) is searched by a one-shot method; nothing in nas_exp changes."""
    from hydra import compose, initialize_config_dir

    from nas_exp.app import run_experiment

    conf = tmp_path / "conf" / "search_space"
    conf.mkdir(parents=True)
    (conf / "my_oneshot_cell.yaml").write_text(MY_CELL)
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[
            f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "search_space=my_oneshot_cell", f"optimizer={optimizer}",
            "evaluation=train", "dataset=digits", "evaluation.device=cpu", "optimizer.epochs=2", "optimizer.C=4",
            "optimizer.N=1", "optimizer.batch_size=32", "optimizer.steps_per_epoch=2", "optimizer.eval_batch_size=128",
            "evaluation.checkpoint_dir=null", "progress=false"])
    run_experiment(cfg, tmp_path / "run")
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    space = DeclaredCellSpace.from_yaml(conf / "my_oneshot_cell.yaml")
    cell = space.from_key(result["incumbent"]["arch"])
    assert cell[2] in ("max_pool_3x3", "sep_conv_3x3")  # edge 1->2 took one of its own two ops
    rows = read_one_shot_trajectory(tmp_path / "run" / "trajectory.csv")
    assert [r.epoch for r in rows] == [1, 2] and rows[-1].arch == result["incumbent"]["arch"]
    assert result["optimizer"] == optimizer and result["stop_reason"] == "all 2 search epochs done"
