"""Train mode, the network: every NB201 op decodes with the right shapes; parameter counts equal the NB201 table's."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="train mode needs the train extra: pip install -e '.[train]'")

from nas_exp.models.cell import InferCell, needed_nodes, node_inputs  # noqa: E402
from nas_exp.models.nb201_params import nb201_parameters_mb  # noqa: E402
from nas_exp.models.network import NB201Network, count_parameters_mb, seeded_network  # noqa: E402
from nas_exp.models.operations import OP_BUILDERS, ResNetBasicBlock, Zero, build_op  # noqa: E402
from nas_exp.search_spaces.nb201 import OPS, Arch  # noqa: E402

ALL_CONV3 = Arch(("nor_conv_3x3",) * 6)
BEST_CIFAR10 = Arch.from_index(6111)  # NB201's best cifar10-valid cell: 4 conv3x3, a skip, a conv1x1


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize("op", OPS)
def test_every_op_decodes_and_keeps_the_shape(op):
    module = build_op(op, 6)
    x = torch.randn(2, 6, 8, 8)
    y = module(x)
    assert y.shape == x.shape
    if op == "none":
        assert isinstance(module, Zero) and torch.count_nonzero(y) == 0
    if op == "skip_connect":
        assert torch.equal(y, x)
    if op == "avg_pool_3x3":  # count_include_pad=False: a constant image stays constant, borders included
        assert torch.allclose(module(torch.ones(1, 6, 5, 5)), torch.ones(1, 6, 5, 5))


def test_op_table_covers_the_space_and_rejects_unknown_ops():
    assert set(OP_BUILDERS) == set(OPS)
    with pytest.raises(ValueError, match="unknown NB201 op 'max_pool_3x3'"):
        build_op("max_pool_3x3", 4)


def test_conv_ops_are_relu_conv_bn_without_bias():
    conv3, conv1 = build_op("nor_conv_3x3", 4), build_op("nor_conv_1x1", 4)
    assert [type(m) for m in conv3] == [torch.nn.ReLU, torch.nn.Conv2d, torch.nn.BatchNorm2d]
    assert conv3[1].kernel_size == (3, 3) and conv3[1].padding == (1, 1) and conv3[1].bias is None
    assert conv1[1].kernel_size == (1, 1) and conv1[1].padding == (0, 0) and conv1[1].bias is None
    assert conv3[2].affine and conv3[2].track_running_stats


def test_reduction_block_halves_resolution_and_maps_channels():
    block = ResNetBasicBlock(4, 8)
    assert block(torch.randn(2, 4, 8, 8)).shape == (2, 8, 4, 4)
    assert block.conv_a[1].stride == (2, 2)
    assert isinstance(block.downsample[0], torch.nn.AvgPool2d) and block.downsample[1].bias is None


def test_cell_sums_its_inputs_in_nb201_order():
    """node1 = skip(x) = x; node2 = skip(x) + skip(node1) = 2x; node3 = skip(x) + none(node1) + skip(node2) = 3x."""
    arch = Arch(("skip_connect", "skip_connect", "skip_connect", "skip_connect", "none", "skip_connect"))
    x = torch.randn(1, 3, 4, 4)
    assert torch.allclose(InferCell(arch, 3)(x), 3 * x)


def test_only_nodes_that_reach_the_output_are_computed():
    arch = Arch(("nor_conv_3x3", "nor_conv_3x3", "none", "skip_connect", "none", "none"))
    inputs = node_inputs(arch)
    assert inputs[3] == ((3, 0),) and needed_nodes(inputs) == {0, 3}
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(InferCell(arch, 4)(x), x)  # node3 = skip(x) only


@pytest.mark.parametrize("arch", [ALL_CONV3, Arch(("none",) * 6), BEST_CIFAR10, Arch(("avg_pool_3x3",) * 6)])
def test_network_forward_and_backward(arch):
    net = NB201Network(arch, C=4, N=1, num_classes=7)
    x = torch.randn(3, 3, 8, 8)
    logits = net(x)
    assert logits.shape == (3, 7)
    logits.sum().backward()
    assert net.classifier.weight.grad is not None
    assert len(net.cells) == 3 * 1 + 2  # 3 stages of N cells + 2 reduction blocks


def test_all_none_cell_runs_and_ignores_its_input():
    """As in NB201: the last stage's cells output zeros, so every image gets the same logits (a trainable bias)."""
    net = NB201Network(Arch(("none",) * 6), C=4, N=2, num_classes=10)
    logits = net(torch.randn(4, 3, 8, 8))
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    assert torch.allclose(logits, logits[:1].expand(4, -1))
    torch.nn.functional.cross_entropy(logits, torch.arange(4)).backward()
    assert net.classifier.bias.grad.abs().sum() > 0


def test_seeded_network_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = seeded_network(BEST_CIFAR10, 7, C=4, N=1), seeded_network(BEST_CIFAR10, 7, C=4, N=1)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    c = seeded_network(BEST_CIFAR10, 8, C=4, N=1)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="C must be an int >= 1"):
        NB201Network(ALL_CONV3, C=0)


# Parameter counts against the shipped table (C=16, N=5). Upstream records a model size per training run; for 204
# cells the runs disagree, and for 150 the first run is off by one conv edge. The store's `params` is the decoded
# network's count (which one of the runs always records); every run's own record stays in `params_run`.
TABLE_CELLS = [ALL_CONV3, Arch(("none",) * 6), Arch(("skip_connect",) * 6), Arch(("nor_conv_1x1",) * 6),
               Arch(("avg_pool_3x3",) * 6), BEST_CIFAR10, Arch.from_index(0), Arch.from_index(1462),
               Arch.from_index(10000)]


def test_largest_cell_has_nb201s_1_53_million_parameters(bench):
    params = count_parameters_mb(NB201Network(ALL_CONV3, C=16, N=5, num_classes=10))
    assert params == pytest.approx(1.531546, abs=1e-6)
    assert bench.query(ALL_CONV3, "cifar10-valid").get("params") == pytest.approx(params, abs=0.01)


@pytest.mark.parametrize("dataset, num_classes", [("cifar10-valid", 10), ("cifar100", 100), ("ImageNet16-120", 120)])
def test_parameter_counts_match_the_table(bench, dataset, num_classes):
    for arch in TABLE_CELLS:
        ours = count_parameters_mb(NB201Network(arch, C=16, N=5, num_classes=num_classes))
        assert ours == pytest.approx(bench.query(arch, dataset).get("params"), abs=0.01), arch


def test_torch_free_parameter_count_equals_the_network():
    rng = np.random.default_rng(0)
    cells = TABLE_CELLS + [Arch.from_index(int(i)) for i in rng.integers(0, 15625, size=12)]
    for arch, classes in zip(cells, [10, 100, 120] * len(cells)):
        assert nb201_parameters_mb(arch, num_classes=classes) == pytest.approx(
            count_parameters_mb(NB201Network(arch, C=16, N=5, num_classes=classes)), abs=1e-9), arch


@pytest.mark.parametrize("dataset, num_classes", [("cifar10-valid", 10), ("cifar100", 100), ("ImageNet16-120", 120)])
def test_every_cells_params_is_its_networks_and_the_disagreeing_runs_are_kept(bench, dataset, num_classes):
    params = bench.metric_array(dataset, "params")
    network = np.array([nb201_parameters_mb(Arch.from_index(i), num_classes=num_classes) for i in range(15625)])
    np.testing.assert_allclose(params, network, atol=1e-9)
    runs = bench.table(dataset).run_metrics["params_run"][:, :, 0]
    present = ~np.isnan(runs)
    differs = present & (np.abs(runs - network[:, None]) > 1e-6)
    assert int(differs.any(axis=1).sum()) == 204  # cells with a run whose recorded size is not the network's
    assert int(differs[:, 0].sum()) == 150  # ... of which the first run (what the table used to serve) in 150
    assert np.all((present & ~differs).any(axis=1))  # some run of every cell records the network's size
    # one of the corrected cells: its first run records another size, the table serves the network's
    fixed = int(np.flatnonzero(differs[:, 0])[0])
    assert bench.query(Arch.from_index(fixed), dataset).get("params") == pytest.approx(network[fixed])
    assert runs[fixed, 0] != pytest.approx(network[fixed], abs=1e-6)
