"""One-shot NAS, the pure pieces: the Hessian eigenvalue by power iteration against numpy on quadratics,
RobustDARTS' stopping rule, random smoothing, rank correlation against known orderings, SPOS' evolution, the
table lookup for digits runs and the trajectory writer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas_exp.one_shot.eigen_stop import EigenvalueStopper
from nas_exp.one_shot.evolution import EvolutionSettings, crossover, evolve, mutate
from nas_exp.one_shot.hessian import dominant_eigenvalue
from nas_exp.one_shot.rank_correlation import cell_rank_correlation, rank_correlation
from nas_exp.one_shot.smoothing import smoothed_weights
from nas_exp.one_shot.table import CellTable
from nas_exp.one_shot.trajectory import OneShotRow, one_shot_trajectory_writer, read_one_shot_trajectory
from nas_exp.search_spaces.nb201 import N_CELLS, Arch, NB201Space
from one_shot_helpers import NB201_LAYOUT


def quadratic(eigenvalues: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


@pytest.mark.parametrize("eigenvalues", [[5.0, 2.0, -1.0, 0.5, 0.1, 1.5], [-7.0, 3.0, 1.0, 0.2]])
def test_power_iteration_finds_the_dominant_eigenvalue_of_a_quadratic(eigenvalues):
    a = quadratic(eigenvalues, 0)
    exact = np.linalg.eigvalsh(a)
    dominant = exact[np.argmax(np.abs(exact))]
    matrix = torch.tensor(a, dtype=torch.float64)
    x = torch.nn.Parameter(torch.randn(len(eigenvalues), dtype=torch.float64))
    loss = lambda: 0.5 * x @ matrix @ x + torch.sin(x).sum() * 0  # noqa: E731 - the Hessian is exactly A
    found = dominant_eigenvalue(loss, [x], iterations=200, tol=1e-10, generator=torch.Generator().manual_seed(0))
    assert found == pytest.approx(dominant, rel=1e-6)
    assert x.grad is None  # .grad untouched


def test_power_iteration_on_a_matrix_shaped_parameter():
    """The architecture is (6, 5): the Hessian of 0.5 * sum(c * a^2) is diag(c), so the eigenvalue is max c."""
    c = torch.linspace(0.1, 3.0, 30).view(6, 5)
    a = torch.nn.Parameter(torch.randn(6, 5))
    found = dominant_eigenvalue(lambda: 0.5 * (c * a**2).sum(), [a], iterations=300, tol=1e-9,
                                generator=torch.Generator().manual_seed(0))
    assert found == pytest.approx(3.0, rel=1e-3)


def test_eigenvalue_stopper_stops_on_growth_and_returns_the_earlier_cell():
    cells = NB201_LAYOUT.distinct_cells(10, np.random.default_rng(0))
    stopper = EigenvalueStopper(window=2, factor=1.3)
    values = [1.0, 1.0, 1.05, 1.1, 1.5, 2.5, 4.0]
    reasons = []
    for value, arch in zip(values, cells):
        reasons.append(stopper.update(value, arch))
        if reasons[-1] is not None:
            break
    # smoothed: 1.0, 1.0, 1.025, 1.075, 1.3, 2.0; at epoch 5 (0-based): 2.0 / 1.075 > 1.3 (epoch 4: 1.3/1.025 < 1.3)
    assert reasons[:5] == [None] * 5 and len(reasons) == 6 and "grew 1.86x" in reasons[5]
    assert stopper.stopped_at == 5 and stopper.fallback == cells[3]
    with pytest.raises(RuntimeError, match="stopped"):
        stopper.update(4.0, cells[6])
    steady = EigenvalueStopper(window=2, factor=1.3)
    assert all(steady.update(1.0 + 0.01 * i, cells[i]) is None for i in range(10)) and steady.fallback is None
    with pytest.raises(ValueError, match="hessian_factor"):
        EigenvalueStopper(window=2, factor=1.0)


def test_random_smoothing_adds_bounded_uniform_noise():
    alphas = torch.nn.Parameter(torch.randn(6, 5))
    clean = torch.softmax(alphas.detach(), dim=-1)
    assert torch.equal(smoothed_weights(alphas, 0.0, np.random.default_rng(0)), clean)
    noisy = smoothed_weights(alphas, 0.3, np.random.default_rng(0))
    delta = noisy - clean
    assert not noisy.requires_grad
    assert float(delta.abs().max()) <= 0.3 and float(delta.abs().max()) > 0.2  # 30 draws span the interval
    assert not torch.equal(noisy, smoothed_weights(alphas, 0.3, np.random.default_rng(1)))


def test_rank_correlation_against_known_orderings():
    same = rank_correlation([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 40.0, 50.0])
    assert same.kendall_tau == pytest.approx(1.0) and same.spearman_rho == pytest.approx(1.0)
    reversed_ = rank_correlation([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0])
    assert reversed_.kendall_tau == pytest.approx(-1.0) and reversed_.spearman_rho == pytest.approx(-1.0)
    one_swap = rank_correlation([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])  # 5 concordant, 1 discordant pair
    assert one_swap.kendall_tau == pytest.approx(4 / 6) and one_swap.spearman_rho == pytest.approx(0.8)
    partial = rank_correlation([1.0, 2.0, None, 3.0], [1.0, 2.0, 5.0, float("nan")])
    assert partial.n_cells == 2 and partial.kendall_tau == pytest.approx(1.0)
    assert rank_correlation([1.0], [2.0]).kendall_tau is None
    assert rank_correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).spearman_rho is None  # constant: undefined
    with pytest.raises(ValueError, match="equally long"):
        rank_correlation([1.0], [1.0, 2.0])


def test_cell_rank_correlation_scores_every_cell_both_ways():
    cells = NB201_LAYOUT.distinct_cells(8, np.random.default_rng(1))
    convs = lambda arch: float(sum(op.startswith("nor_conv") for op in arch) + arch.code * 1e-6)  # noqa: E731
    found = cell_rank_correlation(cells, convs, lambda arch: -convs(arch), Arch.to_str)
    assert found.kendall_tau == pytest.approx(-1.0) and found.n_cells == 8
    assert [c["arch"] for c in found.cells] == [a.to_str() for a in cells]


def test_sampled_cells_are_distinct_and_reproducible():
    cells = NB201_LAYOUT.distinct_cells(300, np.random.default_rng(0))
    assert len(set(cells)) == 300 and cells == NB201_LAYOUT.distinct_cells(300, np.random.default_rng(0))
    assert len(NB201_LAYOUT.distinct_cells(N_CELLS + 5, np.random.default_rng(0))) == N_CELLS


def test_mutation_and_crossover_make_valid_cells():
    rng = np.random.default_rng(0)
    a, b = NB201_LAYOUT.distinct_cells(2, rng)
    for _ in range(50):
        child = mutate(a, NB201_LAYOUT, 0.1, rng)
        assert child != a and isinstance(child, Arch)
        mixed = crossover(a, b, NB201_LAYOUT, rng)
        assert all(op in (x, y) for op, x, y in zip(mixed, a, b))


def test_evolution_climbs_a_known_score_and_scores_each_cell_once():
    calls: list[Arch] = []

    def score(arch: Arch) -> float:  # best: every edge nor_conv_3x3 (a single optimum)
        calls.append(arch)
        return float(sum(op == "nor_conv_3x3" for op in arch))

    ranked = evolve(score, NB201_LAYOUT, np.random.default_rng(0), EvolutionSettings(20, 15, 5, 0.2))
    assert ranked[0].oneshot_valid_acc == 6.0 and set(ranked[0].arch) == {"nor_conv_3x3"}
    assert len(calls) == len(set(calls)) == len(ranked)
    assert [s.oneshot_valid_acc for s in ranked] == sorted((s.oneshot_valid_acc for s in ranked), reverse=True)


def test_table_scores_digits_cells_with_cifar10_valid(bench):
    arch = Arch.from_index(6111)
    digits = CellTable.create(NB201Space(), bench, None, "digits", "digits")
    assert (digits.valid_dataset, digits.test_dataset) == ("cifar10-valid", "cifar10-valid")
    assert digits.valid_acc(arch) == pytest.approx(91.61, abs=0.01)  # NB201's best cifar10-valid cell
    cifar100 = CellTable.create(NB201Space(), bench, None, "cifar100", "cifar100")
    assert cifar100.valid_acc(arch) == pytest.approx(bench.query(arch, "cifar100").get("valid_acc"))
    forced = CellTable.create(NB201Space(), bench, "ImageNet16-120", "digits", "digits")
    assert forced.valid_acc(arch) == pytest.approx(bench.query(arch, "ImageNet16-120").get("valid_acc"))
    with pytest.raises(ValueError, match="dataset 'mnist' is not in the nb201 benchmark; valid: "):
        CellTable.create(NB201Space(), bench, "mnist", "digits", "digits")


def test_trajectory_rows_are_flushed_and_read_back(tmp_path):
    path = tmp_path / "trajectory.csv"
    rows = [OneShotRow(1, Arch.from_index(1).to_str(), 85.5, 40.25, 1.5, 0.75, None),
            OneShotRow(2, Arch.from_index(2).to_str(), None, 55.0, 1.25, 1.5, 3.5)]
    with one_shot_trajectory_writer(path) as writer:
        writer.write(rows[0])
        assert read_one_shot_trajectory(path) == rows[:1]  # visible before the run ends
        writer.write(rows[1])
    assert read_one_shot_trajectory(path) == rows
