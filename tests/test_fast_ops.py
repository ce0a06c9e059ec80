"""The fast CPU paths compute what the plain reference computes (up to float rounding): NB201's avg_pool_3x3 as a
box-filter convolution against torch's AvgPool2d(count_include_pad=False), the supernet's mixed edge (shared ReLU,
fused multiply-add) against the running sum of ``w_k * op_k(x)``, forward and backward (weights and alphas), and
the same in channels_last."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra: pip install -e '.[train]'")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from nas_exp.models.network import NB201Network  # noqa: E402
from nas_exp.models.operations import AvgPool3x3, build_op  # noqa: E402
from nas_exp.one_shot.mixed_op import MixedOp  # noqa: E402
from nas_exp.one_shot.supernet import SearchCell  # noqa: E402
from nas_exp.search_spaces.nb201 import OPS, Arch  # noqa: E402
from one_shot_helpers import NB201_LAYOUT, nb201_mixed_op, nb201_supernet  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")
POOL = OPS.index("avg_pool_3x3")


def reference_pool() -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


def reference_mixed(self: MixedOp, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The plain running sum of ``w_k * op_k(x)`` over the ops other than none, each op on its own."""
    total = None
    for k, name in enumerate(OPS):
        if name != "none":
            term = weights[k] * self.run(k, x)
            total = term if total is None else total + term
    return total


class ReferenceMixedOp(MixedOp):
    mixed = reference_mixed


def to_reference(net: nn.Module) -> nn.Module:
    for module in net.modules():
        if isinstance(module, SearchCell):
            module.by_source = False  # edge by edge
        if isinstance(module, MixedOp):
            module.__class__ = ReferenceMixedOp
            module.candidates[POOL] = reference_pool()
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, AvgPool3x3):
                setattr(module, child_name, reference_pool())
    return net


@pytest.mark.parametrize("shape", [(3, 4, 7, 5), (2, 3, 1, 1), (2, 2, 2, 9), (1, 5, 8, 8)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_avg_pool_equals_torch_avg_pool_without_padding_counted(shape, layout):
    torch.manual_seed(0)
    x = torch.randn(shape).contiguous(memory_format=layout)
    grad = torch.randn(shape)
    mine, ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = AvgPool3x3()(mine), reference_pool()(ref)
    assert torch.allclose(out, expected, rtol=1e-6, atol=1e-6)
    out.backward(grad)
    expected.backward(grad)
    assert torch.allclose(mine.grad, ref.grad, rtol=1e-6, atol=1e-6)
    assert torch.allclose(AvgPool3x3()(torch.ones(1, 2, 4, 6, dtype=torch.float64)), torch.ones(1, 2, 4, 6,
                                                                                                 dtype=torch.float64))
    assert not list(AvgPool3x3().parameters()) and not list(AvgPool3x3().buffers())


def test_avg_pool_op_keeps_double_precision_exact():
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    assert torch.allclose(build_op("avg_pool_3x3", 3)(x), reference_pool()(x), rtol=1e-12, atol=1e-12)


def _grads(net: nn.Module, alphas: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple:
    weights = torch.softmax(alphas, dim=-1)
    loss = F.cross_entropy(net(x, weights=weights), y)
    params = list(net.parameters())
    grads = torch.autograd.grad(loss, [alphas, *params])
    return loss.detach(), grads[0], grads[1:]


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_supernet_loss_and_gradients_equal_the_reference(layout):
    torch.manual_seed(0)
    net = nb201_supernet(C=4, N=1, num_classes=5)
    ref = to_reference(nb201_supernet(C=4, N=1, num_classes=5))
    ref.load_state_dict(net.state_dict())
    net, ref = net.to(memory_format=layout).train(), ref.train()
    alphas = torch.randn(6, len(OPS), requires_grad=True)
    x, y = torch.randn(6, 3, 8, 8), torch.randint(0, 5, (6,))
    loss, d_alpha, d_weights = _grads(net, alphas, x.contiguous(memory_format=layout), y)
    ref_loss, ref_alpha, ref_weights = _grads(ref, alphas, x, y)
    assert torch.allclose(loss, ref_loss, rtol=1e-6, atol=1e-6)
    assert torch.allclose(d_alpha, ref_alpha, rtol=1e-4, atol=1e-6)
    for mine, theirs in zip(d_weights, ref_weights):
        assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    for a, b in zip(net.state_dict().values(), ref.state_dict().values()):  # BN running statistics
        assert torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-6)


def test_skipping_none_is_exact_in_value_and_in_the_weights_gradient():
    """d(sum_k w_k op_k(x))/dw_none = op_none(x) = 0: leaving none out loses no gradient (alpha_none still gets its
    share through the softmax)."""
    torch.manual_seed(0)
    mixed = nb201_mixed_op(3).train()
    x = torch.randn(4, 3, 5, 5)
    w_all = torch.softmax(torch.randn(len(OPS)), dim=0).requires_grad_()
    w_new = w_all.detach().clone().requires_grad_()
    full = sum(w_all[k] * op(x) for k, op in enumerate(mixed.candidates))  # none included: w_none * zeros
    g = torch.randn_like(full)
    full.backward(g)
    mixed(x, weights=w_new).backward(g)
    assert w_all.grad[OPS.index("none")] == 0 and w_new.grad[OPS.index("none")] == 0
    assert torch.allclose(w_new.grad, w_all.grad, rtol=1e-5, atol=1e-6)


def test_mixed_op_with_drop_path_draws_the_same_masks_as_the_reference():
    torch.manual_seed(0)
    mixed, ref = nb201_mixed_op(3), ReferenceMixedOp(3, OPS)
    ref.load_state_dict(mixed.state_dict())
    x, w = torch.randn(8, 3, 5, 5), torch.softmax(torch.randn(len(OPS)), dim=0)
    for op in (mixed, ref):
        op.drop_path.p = 0.5
        op.drop_path.generator = torch.Generator().manual_seed(3)
    assert torch.allclose(mixed(x, weights=w), ref(x, weights=w), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("arch", [Arch(("avg_pool_3x3",) * 6), Arch.from_index(6111)])
def test_nb201_network_output_equals_the_reference_pool(arch):
    torch.manual_seed(0)
    net = NB201Network(arch, C=4, N=1).train()
    ref = to_reference(NB201Network(arch, C=4, N=1)).train()
    ref.load_state_dict(net.state_dict())
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(net(x), ref(x), rtol=1e-5, atol=1e-6)


def test_supernet_in_double_precision_equals_the_reference_to_rounding():
    """In float64 the new edge and the reference agree to ~1e-13: the float32 differences are rounding only (in
    float32 the alpha gradient of a deep supernet is itself only good to ~1e-4 absolute, old ops or new)."""
    torch.manual_seed(0)
    net = nb201_supernet(C=3, N=2, num_classes=4).double().train()
    ref = to_reference(nb201_supernet(C=3, N=2, num_classes=4)).double().train()
    ref.load_state_dict(net.state_dict())
    alphas = torch.randn(6, len(OPS), dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(4, 3, 8, 8, dtype=torch.float64), torch.randint(0, 4, (4,))
    loss, d_alpha, d_weights = _grads(net, alphas, x, y)
    ref_loss, ref_alpha, ref_weights = _grads(ref, alphas, x, y)
    assert torch.allclose(loss, ref_loss, rtol=1e-12, atol=0)
    assert torch.allclose(d_alpha, ref_alpha, rtol=1e-9, atol=1e-12)
    for mine, theirs in zip(d_weights, ref_weights):
        assert torch.allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def _edge_by_edge(net: nn.Module) -> nn.Module:
    for module in net.modules():
        if isinstance(module, SearchCell):
            module.by_source = False
    return net


def test_supernet_by_source_equals_edge_by_edge_in_eval_mode_and_falls_back_under_drop_path():
    """The node-by-node cell (``SearchCell.mixed_by_source``) against ``MixedOp.mixed`` edge by edge: eval mode (BN
    running statistics) agrees to rounding; with DropPath on, the cell goes edge by edge (the same masks)."""
    torch.manual_seed(0)
    net = nb201_supernet(C=4, N=1, num_classes=5)
    ref = _edge_by_edge(nb201_supernet(C=4, N=1, num_classes=5))
    ref.load_state_dict(net.state_dict())
    x = torch.randn(6, 3, 8, 8)
    w = torch.softmax(torch.randn(6, len(OPS)), dim=-1)
    net.train()(x, weights=w)  # move the running statistics off their initial values
    ref.train()(x, weights=w)
    assert torch.allclose(net.eval()(x, weights=w), ref.eval()(x, weights=w), rtol=1e-5, atol=1e-6)
    net.train(), ref.train()
    net.set_drop_path(0.5, torch.Generator().manual_seed(3))
    ref.set_drop_path(0.5, torch.Generator().manual_seed(3))
    assert torch.equal(net(x, weights=w), ref(x, weights=w))


def test_supernet_by_source_has_the_edge_by_edge_alpha_hessian_in_double_precision():
    """Second order (DARTS' Hessian-vector products w.r.t. the alphas: RobustDARTS' eigenvalue, darts2) through the
    in-place node sums and the BN-weight alphas: equal to edge by edge to rounding in float64."""
    torch.manual_seed(0)
    net = nb201_supernet(C=3, N=1, num_classes=4).double().train()
    ref = _edge_by_edge(nb201_supernet(C=3, N=1, num_classes=4)).double().train()
    ref.load_state_dict(net.state_dict())
    alphas = torch.randn(6, len(OPS), dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(4, 3, 8, 8, dtype=torch.float64), torch.randint(0, 4, (4,))
    v = torch.randn(6, len(OPS), dtype=torch.float64)
    hvps = []
    for model in (net, ref):
        loss = F.cross_entropy(model(x, weights=torch.softmax(alphas, dim=-1)), y)
        (grad,) = torch.autograd.grad(loss, [alphas], create_graph=True)
        hvps.append(torch.autograd.grad((grad * v).sum(), [alphas])[0])
    assert torch.allclose(hvps[0], hvps[1], rtol=1e-9, atol=1e-12)
