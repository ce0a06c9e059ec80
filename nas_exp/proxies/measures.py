"""The zero-cost proxies: small pure functions ``proxy(net, batch) -> float`` on a freshly initialised network.

Every proxy is oriented so that a **higher score means a predicted better architecture** (NASLib's convention,
Abdelfattah et al. 2021 "Zero-Cost Proxies for Lightweight NAS", Mellor et al. 2021 for NWOT). Definitions (our own
code; NASLib's ``predictors/utils/pruners/measures`` was read as the reference):

=========  ==============================================================================================  =====
proxy      score                                                                                           data
=========  ==============================================================================================  =====
params     number of trainable parameters (larger networks tend to train to higher accuracy)                no
flops      multiply-accumulates of every Conv2d and Linear layer for one input image (forward hooks)       no
synflow    sum |theta * dR/dtheta| over Conv2d/Linear weights, R = sum of the output for an all-ones      no
           input, weights replaced by |theta|, float64, BatchNorm in eval mode (Tanaka et al. 2020)
grad_norm  sum over Conv2d/Linear weights of the L2 norm of dL/dtheta, L = cross-entropy on the batch       yes
snip       sum |theta * dL/dtheta| over Conv2d/Linear weights (Lee et al. 2019)                             yes
fisher     sum over Conv2d/Linear outputs a of sum_channels 0.5 * mean_batch (sum_space a * dL/da)^2       yes
           (Turner et al. 2020; NASLib computes it on the same layer outputs)
jacov      -sum_i [log(v_i + k) + 1 / (v_i + k)], v = eigenvalues of the correlation matrix of the         yes
           per-image input gradients of sum(output), k = 1e-5 (NASLib's sign: 0 > score, higher better)
nwot       log |det K|, K[i, j] = number of ReLUs on which images i and j have the same on/off code        yes
           (Mellor et al. 2021, "NASWOT"); K is an integer Gram matrix, so a non-singular K has logdet >= 0
=========  ==============================================================================================  =====

Data-dependent proxies run the network in train mode (BatchNorm on batch statistics), as NASLib does.

**Disconnected networks.** A network whose output does not depend on its input (e.g. an NB201 cell whose every
path to the output is ``none``; detected as an all-zero input gradient of the summed output, so no knowledge of
the space is needed) gets each proxy's *floor*, the value it tends to when the input carries no signal:
0 for synflow, grad_norm, snip and fisher (there is no saliency to measure; whatever is computed there is a bias
term of the classifier), 0 for nwot (a singular K; every non-singular K scores >= 0) and, for jacov, the value of a
rank-one correlation matrix (all Jacobians identical): ``-(log(n + k) + 1/(n + k)) - (n - 1)(log k + 1/k)``.
params and flops are always their counts. A connected network whose jacov or nwot is not finite (a constant
Jacobian row, a singular K) gets the same floor; no proxy returns NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

JACOV_K = 1e-5
WEIGHTED = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class Batch:
    """The images (float32, normalised, (B, 3, H, W)) and labels (int64, (B,)) every data proxy sees."""

    images: torch.Tensor
    labels: torch.Tensor


def weighted_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, WEIGHTED)]


def _cross_entropy_grads(net: nn.Module, batch: Batch) -> None:
    net.train()
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(batch.images), batch.labels).backward()


def _grad_or_zero(param: torch.Tensor) -> torch.Tensor:
    return param.grad if param.grad is not None else torch.zeros_like(param)


def input_gradients(net: nn.Module, batch: Batch) -> torch.Tensor:
    """d sum(output) / d input, one row per image (B, 3*H*W): the Jacobians jacov correlates."""
    net.train()
    x = batch.images.clone().requires_grad_(True)
    net.zero_grad(set_to_none=True)
    net(x).sum().backward()
    grad = x.grad if x.grad is not None else torch.zeros_like(x)  # None: x is not in the graph at all
    return grad.reshape(len(x), -1)


def is_disconnected(net: nn.Module, batch: Batch) -> bool:
    """True when the output does not depend on the input (its input gradient is exactly zero; two images suffice,
    since the dependence is structural)."""
    return not bool(torch.any(input_gradients(net, Batch(batch.images[:2], batch.labels[:2])) != 0))


# --- the proxies -------------------------------------------------------------------------------------------------
def params(net: nn.Module, batch: Batch) -> float:
    return float(sum(p.numel() for p in net.parameters() if p.requires_grad))


def flops(net: nn.Module, batch: Batch) -> float:
    """Multiply-accumulates of Conv2d and Linear layers for one image of the batch's shape."""
    total = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * per_output
        else:
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(count) for m in weighted_layers(net)]
    try:
        net.eval()
        with torch.no_grad():
            net(batch.images[:1])
    finally:
        for handle in handles:
            handle.remove()
    return float(total)


def synflow(net: nn.Module, batch: Batch) -> float:
    """Data-free: only the batch's image shape is used. Changes ``net`` (|weights|, float64, BatchNorm statistics
    reset to their initial mean 0 / variance 1, so earlier train-mode passes on ``net`` do not matter)."""
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    net.double().eval()
    net.zero_grad(set_to_none=True)
    ones = torch.ones((1, *batch.images.shape[1:]), dtype=torch.float64)
    net(ones).sum().backward()
    score = _saliency(net)
    return score if math.isfinite(score) else 0.0


@torch.no_grad()
def _saliency(net: nn.Module) -> float:
    """sum |theta * grad| over the Conv2d/Linear weights."""
    return sum(float((m.weight * _grad_or_zero(m.weight)).abs().sum()) for m in weighted_layers(net))


@torch.no_grad()
def _grad_norms(net: nn.Module) -> float:
    return sum(float(_grad_or_zero(m.weight).norm()) for m in weighted_layers(net))


def grad_norm(net: nn.Module, batch: Batch) -> float:
    _cross_entropy_grads(net, batch)
    return _grad_norms(net)


def snip(net: nn.Module, batch: Batch) -> float:
    _cross_entropy_grads(net, batch)
    return _saliency(net)


@contextmanager
def _kept_outputs(modules: list[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Collect each module's output (gradients retained) during the forward passes run inside."""
    kept: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if output.requires_grad:
            output.retain_grad()
            kept.append(output)

    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        yield kept
    finally:
        for handle in handles:
            handle.remove()


def fisher(net: nn.Module, batch: Batch) -> float:
    with _kept_outputs(weighted_layers(net)) as outputs:
        _cross_entropy_grads(net, batch)
    total = 0.0
    for act in outputs:
        if act.grad is None:
            continue
        per_image = act.detach() * act.grad
        if per_image.dim() == 4:
            per_image = per_image.sum(dim=(2, 3))
        total += float(0.5 * per_image.pow(2).mean(dim=0).sum())
    return total


def jacov_floor(n: int) -> float:
    """jacov of a rank-one correlation matrix of ``n`` images: the score of Jacobians that carry no difference."""
    k = JACOV_K
    return -(math.log(n + k) + 1.0 / (n + k)) - (n - 1) * (math.log(k) + 1.0 / k)


def jacov(net: nn.Module, batch: Batch) -> float:
    grads = input_gradients(net, batch).double().numpy()
    floor = jacov_floor(len(grads))
    if np.any(grads.std(axis=1) == 0):  # a constant Jacobian has no correlation (disconnected: all rows)
        return floor
    eigenvalues = np.linalg.eigvalsh(np.corrcoef(grads))
    score = -float(np.sum(np.log(eigenvalues + JACOV_K) + 1.0 / (eigenvalues + JACOV_K)))
    return score if math.isfinite(score) else floor


def nwot(net: nn.Module, batch: Batch) -> float:
    codes: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes.append((output.detach() > 0).reshape(len(output), -1).double())

    handles = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        net.train()
        with torch.no_grad():
            net(batch.images)
    finally:
        for handle in handles:
            handle.remove()
    if not codes:
        return 0.0
    on = torch.cat(codes, dim=1)
    kernel = on @ on.T + (1 - on) @ (1 - on).T
    sign, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet) if sign > 0 and math.isfinite(logdet) else 0.0


Proxy = Callable[[nn.Module, Batch], float]


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy: its function, whether it needs real data, whether it changes the network it is given, and the
    value a network whose output ignores its input gets (None: the proxy is computed as usual)."""

    name: str
    fn: Proxy
    needs_data: bool
    mutates: bool
    floor: Callable[[int], float] | None


PROXIES: dict[str, ProxyInfo] = {info.name: info for info in (
    ProxyInfo("params", params, needs_data=False, mutates=False, floor=None),
    ProxyInfo("flops", flops, needs_data=False, mutates=False, floor=None),
    ProxyInfo("synflow", synflow, needs_data=False, mutates=True, floor=lambda n: 0.0),
    ProxyInfo("grad_norm", grad_norm, needs_data=True, mutates=False, floor=lambda n: 0.0),
    ProxyInfo("snip", snip, needs_data=True, mutates=False, floor=lambda n: 0.0),
    ProxyInfo("fisher", fisher, needs_data=True, mutates=False, floor=lambda n: 0.0),
    ProxyInfo("jacov", jacov, needs_data=True, mutates=False, floor=jacov_floor),
    ProxyInfo("nwot", nwot, needs_data=True, mutates=False, floor=lambda n: 0.0),
)}
PROXY_NAMES: tuple[str, ...] = tuple(PROXIES)
