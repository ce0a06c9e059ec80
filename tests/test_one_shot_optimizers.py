"""One-shot NAS, the optimizers: each of DARTS (1st/2nd order, smoothing, Hessian tracking), GDAS, RSWS, ENAS
(LSTM and per-edge controllers) and SPOS trains a tiny supernet on digits for a few steps, moves what it learns
about the architecture, and returns a valid cell; the unrolled DARTS gradient against the exact one."""

from __future__ import annotations

import math

import pytest
import torch

from nas_exp.datasets.registry import load_dataset
from nas_exp.one_shot import DARTS, ENAS, GDAS, RSWS, SPOS
from nas_exp.one_shot.base import OneShotOptimizer
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.controllers import build_controller
from nas_exp.one_shot.records import EpochRecord
from nas_exp.one_shot.settings import OneShotSettings
from nas_exp.one_shot.unrolled import unrolled_alpha_grad
from nas_exp.search_spaces.nb201 import N_EDGES, Arch
from nas_exp.training.device_data import DeviceData
from one_shot_helpers import NB201_LAYOUT

TINY = {"layout": NB201_LAYOUT, "epochs": 2, "C": 4, "N": 1, "batch_size": 32, "steps_per_epoch": 3,
        "eval_batch_size": 128, "eval_batches": 1}
CASES = {
    "darts": (DARTS, {}),
    "darts2_smooth_hessian": (DARTS, {"order": 2, "smooth_epsilon": 0.2, "hessian": "track",
                                      "hessian_iterations": 5}),
    "gdas": (GDAS, {}),
    "rsws": (RSWS, {"select_num": 6, "epoch_candidates": 3}),
    "enas_lstm": (ENAS, {"controller_steps": 2, "controller_aggregate": 3, "select_num": 4}),
    "enas_per_edge": (ENAS, {"controller": "per_edge", "controller_steps": 2, "controller_aggregate": 3,
                             "select_num": 4}),
    "spos": (SPOS, {"population_size": 6, "n_iterations": 2, "n_parents": 2, "epoch_candidates": 3}),
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> DeviceData:
    return DeviceData.from_dataset(load_dataset("digits"), torch.device("cpu"))


def run(method: OneShotOptimizer, digits: DeviceData) -> tuple[list[EpochRecord], object]:
    records: list[EpochRecord] = []
    batches = SearchBatches(digits, 32, 0, eval_batch_size=128, steps_per_epoch=3)
    return records, method.search(batches, on_epoch=records.append)


@pytest.mark.parametrize("case", list(CASES))
def test_optimizer_moves_its_architecture_and_returns_a_cell(case, digits):
    cls, extra = CASES[case]
    method = cls(seed=0, **TINY, **extra)
    method.setup(digits.num_classes, 3, torch.device("cpu"))
    arch_before = [p.detach().clone() for p in method.architecture_parameters()]
    weights_before = [p.detach().clone() for p in method.net.parameters()]
    records, outcome = run(method, digits)

    assert isinstance(outcome.arch, Arch) and Arch.from_str(outcome.arch.to_str()) == outcome.arch
    assert outcome.epochs == 2 and outcome.stop_reason == "all 2 search epochs done"
    assert [r.epoch for r in records] == [1, 2] and records[-1].arch == outcome.arch
    for r in records:
        assert 0.0 <= r.oneshot_valid_acc <= 100.0 and math.isfinite(r.train_loss) and r.train_loss > 0
        assert 0.0 < r.train_seconds <= r.wall_time
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, method.net.parameters()))
    if isinstance(method, (DARTS, GDAS, ENAS)):
        assert arch_before, "alphas / controller parameters expected"
        moved = [not torch.equal(a, b.detach()) for a, b in zip(arch_before, method.architecture_parameters())]
        assert any(moved)
    if isinstance(method, (DARTS, GDAS)):
        assert outcome.arch.op_indices == tuple(method.alphas.detach().argmax(dim=1).tolist())
    if method.ranks_candidates:  # RSWS, ENAS, SPOS pick the best of ranked candidates
        accs = [c.oneshot_valid_acc for c in outcome.candidates]
        assert len(accs) >= 2 and accs == sorted(accs, reverse=True)
        assert outcome.arch == outcome.candidates[0].arch
    if case == "darts2_smooth_hessian":
        assert all(r.hessian_eigenvalue is not None and math.isfinite(r.hessian_eigenvalue) for r in records)
    else:
        assert all(r.hessian_eigenvalue is None for r in records)


def test_a_search_is_reproducible_from_its_seed(digits):
    first = run(GDAS(seed=3, **TINY), digits)[0]
    second = run(GDAS(seed=3, **TINY), digits)[0]
    assert [(r.arch, r.oneshot_valid_acc, r.train_loss) for r in first] == \
        [(r.arch, r.oneshot_valid_acc, r.train_loss) for r in second]


def test_gdas_anneals_its_temperature(digits):
    method = GDAS(seed=0, **{**TINY, "epochs": 3, "steps_per_epoch": 1}, tau_max=10.0, tau_min=0.1)
    seen: list[float] = []
    batches = SearchBatches(digits, 32, 0, eval_batch_size=128, steps_per_epoch=1)
    method.search(batches, on_epoch=lambda r: seen.append(method.tau))
    assert seen == pytest.approx([10.0, 5.05, 0.1])


def test_retraining_the_top_k_picks_the_best_trained_cell(digits):
    trained: dict[Arch, float] = {}

    def retrain(arch: Arch) -> float:  # a stand-in for the train-mode evaluator: more convolutions, better
        trained[arch] = float(sum(op.startswith("nor_conv") for op in arch))
        return trained[arch]

    method = RSWS(seed=0, **{**TINY, "retrain_top_k": 3}, select_num=8, epoch_candidates=2)
    batches = SearchBatches(digits, 32, 0, eval_batch_size=128, steps_per_epoch=3)
    outcome = method.search(batches, retrain=retrain)
    assert len(trained) == 3
    assert outcome.arch == max(trained, key=trained.get)
    assert [c.retrained_valid_acc for c in outcome.candidates[:3]] == sorted(trained.values(), reverse=True)
    with pytest.raises(ValueError, match="retrain_top_k"):
        RSWS(seed=0, **{**TINY, "retrain_top_k": 1}).search(batches)


def test_unrolled_gradient_matches_exact_second_order_gradient():
    """DARTS' finite-difference hypergradient against autograd through the virtual step, on a smooth toy loss."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(3, 5))
    alphas = torch.nn.Parameter(torch.randn(2, 5))

    def toy(w, a, batch):
        x, y = batch
        return ((torch.tanh(x @ w) * torch.softmax(a, dim=-1).sum(0) - y) ** 2).mean() + (w * a[0]).pow(2).mean()

    train = (torch.randn(8, 3), torch.randn(8, 5))
    valid = (torch.randn(8, 3), torch.randn(8, 5))
    xi, wd = 0.1, 0.01
    before = weight.detach().clone()
    found = unrolled_alpha_grad(lambda batch, a: toy(weight, a, batch), alphas, [weight], train, valid, xi=xi,
                                weight_decay=wd, r=1e-3)
    assert torch.equal(weight.detach(), before)  # the weights are restored

    w0 = before.clone().requires_grad_(True)
    grad_w = torch.autograd.grad(toy(w0, alphas, train), [w0], create_graph=True)[0]
    exact = torch.autograd.grad(toy(w0 - xi * (grad_w + wd * w0), alphas, valid), [alphas])[0]
    first_order = torch.autograd.grad(toy(w0, alphas, valid), [alphas])[0]
    assert not torch.allclose(exact, first_order, rtol=1e-2, atol=1e-4)  # the second-order term matters here
    assert torch.allclose(found, exact, rtol=1e-2, atol=1e-4)
    no_step = unrolled_alpha_grad(lambda batch, a: toy(weight, a, batch), alphas, [weight], train, valid, xi=0.0)
    assert torch.allclose(no_step, first_order, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "per_edge"])
def test_controller_log_prob_and_greedy_decoding(kind):
    torch.manual_seed(0)
    controller = build_controller(kind, NB201_LAYOUT.decision_sizes)
    decision = controller.sample(torch.Generator().manual_seed(0))
    assert len(decision.decisions) == N_EDGES and all(0 <= i < 5 for i in decision.decisions)
    replay = controller.decode(lambda logits, path=iter(decision.decisions): next(path))
    assert torch.allclose(replay.log_prob, decision.log_prob) and float(decision.log_prob.detach()) < 0
    assert 0 < float(decision.entropy.detach()) <= N_EDGES * math.log(5) + 1e-5
    greedy = controller.greedy()
    assert greedy == controller.greedy()
    assert controller.decode(lambda logits, path=iter(greedy): next(path)).log_prob >= decision.log_prob - 1e-6


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, "optimizer.epochs must be an int >= 1"),
    ({"bn_mode": "running"}, "optimizer.bn_mode must be one of train, recalibrate"),
    ({"drop_path_prob": 1.0}, r"optimizer.drop_path_prob must be in \[0, 1\)"),
    ({"learning_rat": 0.1}, "unknown one-shot setting"),
])
def test_bad_settings_fail_in_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        OneShotSettings.from_mapping(bad)
    assert "\n" not in str(info.value)


def test_bad_method_options_fail_in_one_line():
    with pytest.raises(ValueError, match="order must be 1"):
        DARTS(order=3, layout=NB201_LAYOUT)
    with pytest.raises(ValueError, match="hessian must be null, track or stop"):
        DARTS(hessian="always", layout=NB201_LAYOUT)
    with pytest.raises(ValueError, match="unknown ENAS controller"):
        ENAS(controller="gru", layout=NB201_LAYOUT)
    with pytest.raises(ValueError, match="tau_min"):
        GDAS(tau_min=0.0, layout=NB201_LAYOUT)
    with pytest.raises(ValueError, match="n_parents"):
        SPOS(population_size=4, n_parents=5, layout=NB201_LAYOUT)


def test_darts_hessian_stop_ends_the_search_early_with_the_earlier_cell(digits):
    method = DARTS(seed=0, **{**TINY, "epochs": 6, "steps_per_epoch": 1}, hessian="stop", hessian_window=1,
                   hessian_factor=1.5)
    eigenvalues = iter([1.0, 1.1, 2.0, 3.0, 4.0, 5.0])
    method.eigenvalue = lambda batches: next(eigenvalues)  # a sharpening valley: grows 1.8x at epoch 3
    records: list[EpochRecord] = []
    seen: list[Arch] = []
    original = method.current_arch
    method.current_arch = lambda batches: seen.append(original(batches)) or seen[-1]
    outcome = method.search(SearchBatches(digits, 32, 0, eval_batch_size=128, steps_per_epoch=1),
                            on_epoch=records.append)
    assert outcome.epochs == 3 and len(records) == 3 and "early stop" in outcome.stop_reason
    assert [r.hessian_eigenvalue for r in records] == [1.0, 1.1, 2.0]
    assert outcome.arch == seen[1] == records[-1].arch  # the cell of the epoch before the jump
