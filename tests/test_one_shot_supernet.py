"""One-shot NAS, the supernet: mixed / sampled / GDAS edges, DropPath, the single-path network against NB201's
stand-alone network, and one-shot scoring that leaves the supernet as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas_exp.models.network import NB201Network
from nas_exp.models.operations import build_op
from nas_exp.one_shot.drop_path import DropPath, scheduled_drop_prob
from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.one_shot.sampling import gumbel_noise, gumbel_softmax_hard, linear_temperature
from nas_exp.one_shot.scoring import batch_norms, oneshot_accuracy
from nas_exp.one_shot.supernet import SearchCell
from nas_exp.search_spaces.nb201 import OPS, Arch
from one_shot_helpers import NB201_LAYOUT, nb201_mixed_op, nb201_supernet

ARCH = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def one_hot(k: int, n: int = len(OPS)) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(k), n).float()


@pytest.mark.parametrize("k", range(len(OPS)))
def test_mixed_op_with_one_hot_weights_equals_the_standalone_op(k):
    torch.manual_seed(k)
    mixed = nb201_mixed_op(4)
    standalone = build_op(OPS[k], 4)
    result = standalone.load_state_dict(mixed.candidates[k].state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all(key.endswith((".weight", ".bias")) for key in result.missing_keys)  # affine BN: 1 and 0
    x = torch.randn(6, 4, 5, 5)
    for train in (False, True):  # eval first: a train-mode call moves the BN running statistics
        mixed.train(train)
        standalone.train(train)
        expected = standalone(x)
        assert torch.allclose(mixed(x, weights=one_hot(k)), expected, atol=1e-6)
        assert torch.equal(mixed(x, index=k), expected)


def test_mixed_op_is_the_weighted_sum_of_its_ops():
    torch.manual_seed(0)
    mixed = nb201_mixed_op(3).eval()
    x = torch.randn(2, 3, 4, 4)
    weights = torch.softmax(torch.randn(len(OPS)), dim=0)
    expected = sum(w * op(x) for w, op in zip(weights, mixed.candidates))
    assert torch.allclose(mixed(x, weights=weights), expected, atol=1e-6)


def test_supernet_on_one_path_computes_nb201s_standalone_network():
    torch.manual_seed(0)
    supernet = nb201_supernet(C=4, N=2, num_classes=10)
    network = NB201Network(ARCH, C=4, N=2, num_classes=10)
    network.stem.load_state_dict(supernet.stem.state_dict())
    for mine, theirs in zip(supernet.cells, network.cells):
        if isinstance(mine, SearchCell):
            for pos, edge in enumerate(theirs.edges):
                edge.load_state_dict(mine.edges[pos].candidates[ARCH.op_indices[pos]].state_dict(), strict=False)
        else:
            theirs.load_state_dict(mine.state_dict())
    network.lastact.load_state_dict(supernet.lastact.state_dict())
    network.classifier.load_state_dict(supernet.classifier.state_dict())
    x = torch.randn(4, 3, 8, 8)
    for train in (False, True):  # eval first: a train-mode call moves the BN running statistics
        supernet.train(train)
        network.train(train)
        expected = network(x)
        assert torch.allclose(supernet(x, path=ARCH.op_indices), expected, atol=1e-5)
        weights = torch.stack([one_hot(k) for k in ARCH.op_indices])
        assert torch.allclose(supernet(x, weights=weights), expected, atol=1e-5)


def test_gdas_computes_one_path_per_edge_and_reaches_every_alpha():
    torch.manual_seed(0)
    supernet = nb201_supernet(C=4, N=2, num_classes=10)
    calls: dict[tuple[int, int], int] = {}
    edges = [edge for edge in supernet.mixed_ops()]
    for e, edge in enumerate(edges):
        for k, op in enumerate(edge.candidates):
            op.register_forward_hook(lambda m, i, o, key=(e, k): calls.__setitem__(key, calls.get(key, 0) + 1))
    alphas = torch.nn.Parameter(torch.randn(6, len(OPS)))
    weights, path = gumbel_softmax_hard(alphas, 1.0, gumbel_noise((6, len(OPS)), np.random.default_rng(0)))
    assert torch.allclose(weights.detach().sum(dim=1), torch.ones(6))
    assert set(weights.detach().flatten().round().tolist()) == {0.0, 1.0}
    supernet(torch.randn(2, 3, 8, 8), weights=weights, path=path).sum().backward()
    assert len(edges) == 6 * 6  # 2 cells per stage, 3 stages, 6 edges each
    assert sorted(calls) == sorted((e, path[e % 6]) for e in range(len(edges)))  # one op per edge, the chosen one
    assert all(count == 1 for count in calls.values())
    assert alphas.grad is not None and bool((alphas.grad != 0).all())  # straight-through: every logit learns


def test_gumbel_temperature_anneals_from_10_to_01():
    assert linear_temperature(0, 5, 10.0, 0.1) == 10.0
    assert linear_temperature(4, 5, 10.0, 0.1) == pytest.approx(0.1)
    assert linear_temperature(2, 5, 10.0, 0.1) == pytest.approx(5.05)


def test_argmax_arch_discretizes_per_edge():
    alphas = torch.stack([one_hot(k) for k in ARCH.op_indices]) * 3 + 0.1 * torch.randn(6, len(OPS))
    assert NB201_LAYOUT.discretize(alphas.numpy()) == ARCH
    with pytest.raises(ValueError, match="shape"):
        NB201_LAYOUT.discretize(np.zeros((5, 5)))


def test_supernet_rejects_a_malformed_architecture():
    supernet = nb201_supernet(C=4, N=1)
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="weights"):
        supernet(x)
    with pytest.raises(ValueError, match=r"shape \(6, 5\)"):
        supernet(x, weights=torch.zeros(6, 4))
    with pytest.raises(ValueError, match="6 op indices"):
        supernet(x, path=(0, 1, 2))


def test_drop_path_drops_whole_samples_at_the_rate_in_training_and_is_identity_in_eval():
    drop = DropPath(0.3)
    drop.generator = torch.Generator().manual_seed(0)
    x = torch.ones(20000, 2, 3, 3)
    out = drop.train()(x)
    dropped = (out == 0).all(dim=(1, 2, 3))
    kept = torch.isclose(out, torch.tensor(1 / 0.7)).all(dim=(1, 2, 3))
    assert bool((dropped | kept).all())  # a sample is dropped or kept whole, kept ones scaled by 1/(1-p)
    assert float(dropped.float().mean()) == pytest.approx(0.3, abs=0.015)
    assert float(out.mean()) == pytest.approx(1.0, abs=0.03)  # unbiased
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        DropPath(1.0)


def test_scheduled_drop_path_ramps_linearly():
    assert [scheduled_drop_prob(0.2, e, 4) for e in range(4)] == pytest.approx([0.0, 0.05, 0.1, 0.15])
    assert scheduled_drop_prob(0.2, 3, 4, "constant") == 0.2
    with pytest.raises(ValueError, match="schedule"):
        scheduled_drop_prob(0.2, 0, 4, "cosine")


def test_supernet_drop_path_reaches_every_parametric_edge():
    supernet = nb201_supernet(C=4, N=1).train()
    supernet.set_drop_path(0.5, torch.Generator().manual_seed(0))
    x = torch.randn(64, 3, 8, 8)
    path = Arch.from_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|").op_indices
    first, second = supernet(x, path=path), supernet(x, path=path)
    assert not torch.allclose(first, second)  # masks differ between calls in training
    supernet.eval()
    assert torch.equal(supernet(x, path=path), supernet(x, path=path))


@pytest.mark.parametrize("bn_mode", ["train", "recalibrate"])
def test_scoring_leaves_the_supernet_as_it_was(bn_mode):
    torch.manual_seed(0)
    supernet = nb201_supernet(C=4, N=1).train()
    supernet.set_drop_path(0.4)
    supernet(torch.randn(16, 3, 8, 8), path=ARCH.op_indices)  # some running statistics
    buffers = {k: v.clone() for k, v in supernet.state_dict().items()}
    momenta = [bn.momentum for bn in batch_norms(supernet)]
    batches = [(torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,))) for _ in range(2)]
    recalibration = [(torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,)))]
    first = oneshot_accuracy(supernet, ARCH.op_indices, batches, bn_mode, recalibration)
    second = oneshot_accuracy(supernet, ARCH.op_indices, batches, bn_mode, recalibration)
    assert first == second and 0.0 <= first <= 100.0  # DropPath is off while scoring
    assert supernet.training and all(m.training for m in supernet.modules())
    assert [bn.momentum for bn in batch_norms(supernet)] == momenta
    assert all(torch.equal(v, supernet.state_dict()[k]) for k, v in buffers.items())
    with pytest.raises(ValueError, match="bn_mode"):
        oneshot_accuracy(supernet, ARCH.op_indices, batches, "running")
