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
