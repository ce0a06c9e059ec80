import numpy as np
import pytest

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.random_search import RandomSearch
from nas_exp.runner import run_search
from nas_exp.search_spaces.nb201 import Arch, NB201Space


@pytest.fixture
def space():
    return NB201Space()


@pytest.fixture
def evaluator(bench):
    return TabularEvaluator(NB201Space(), search_on="cifar10-valid", report_on="cifar10-valid", benchmark=bench)


def search(space, evaluator, budget, seed=0, optimizer=None):
    optimizer = optimizer or RandomSearch(space.configspace, seed=seed)
    return run_search(space, optimizer, evaluator, budget, seed)


def test_evaluation_budget_is_exact(space, evaluator):
    result = search(space, evaluator, Budget(max_evaluations=37))
    assert [r.n for r in result.rows] == list(range(1, 38))
    assert result.stop_reason == "budget exhausted"


def test_simulated_time_budget_never_overrun(space, evaluator, bench):
    budget = Budget(max_simulated_seconds=20_000)
    result = search(space, evaluator, budget)
    total = result.rows[-1].simulated_time
    assert total <= 20_000
    assert sum(r.cost for r in result.rows) == pytest.approx(total)
    assert "overrun" in result.stop_reason
    # the proposal that stopped the run really would not have fitted
    again = RandomSearch(space.configspace, seed=0)
    for _ in range(len(result.rows)):
        again.ask()
    next_arch = space.from_config(again.ask().config)
    assert total + bench.query(next_arch, "cifar10-valid").get("train_time") > 20_000


def test_cost_is_the_tables_training_time_and_incumbent_is_running_best(space, evaluator, bench):
    result = search(space, evaluator, Budget(max_evaluations=50))
    best = -1.0
    for row in result.rows:
        record = bench.query(Arch.from_str(row.arch), "cifar10-valid")
        assert row.value == record.get("valid_acc") and row.cost == record.get("train_time")
        best = max(best, row.value)
        assert row.incumbent_value == best
        assert row.test is None and not row.repeat


class RepeatingOptimizer(Optimizer):
    """Proposes the same two configurations over and over; records what it is told."""

    def __init__(self, configspace, archs, space):
        super().__init__(configspace, seed=0)
        self.configs = [space.to_config(a) for a in archs]
        self.told: list[float] = []

    def ask(self) -> Trial:
        return Trial(config=self.configs[len(self.told) % len(self.configs)])

    def tell(self, trial, loss, cost):
        self.told.append(loss)


def test_repeats_are_served_from_cache_and_counted(space, evaluator):
    archs = [Arch.from_index(1), Arch.from_index(2)]
    calls = []
    original = evaluator.evaluate
    evaluator.evaluate = lambda arch, rng, **kw: calls.append(arch) or original(arch, rng, **kw)
    optimizer = RepeatingOptimizer(space.configspace, archs, space)
    result = search(space, evaluator, Budget(max_evaluations=6), optimizer=optimizer)
    assert calls == archs  # each cell evaluated once
    assert [r.repeat for r in result.rows] == [False, False, True, True, True, True]
    assert len(optimizer.told) == 6  # counted and told every time
    assert result.rows[-1].simulated_time == pytest.approx(3 * (result.rows[0].cost + result.rows[1].cost))


def test_random_search_never_repeats_and_is_seeded(space):
    first = RandomSearch(space.configspace, seed=3)
    configs = [first.ask().config for _ in range(500)]
    assert len(set(configs)) == 500
    second = RandomSearch(space.configspace, seed=3)
    assert [second.ask().config for _ in range(500)] == configs


def test_seed_policy_sample_draws_real_runs(space, bench):
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", seed_policy="sample", benchmark=bench)
    arch = Arch.from_index(0)
    draws = {evaluator.evaluate(arch, np.random.default_rng(s)).value for s in range(30)}
    runs = {bench.query(arch, "cifar10-valid", seed=s).get("valid_acc") for s in range(bench.n_seeds(arch, "cifar10-valid"))}
    assert draws == runs


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "the budget is unbounded"),
        ({"max_evaluations": 0}, "max_evaluations must be a positive int, got 0"),
        ({"max_evaluations": 2.5}, "max_evaluations must be a positive int, got 2.5"),
        ({"max_simulated_seconds": -1}, "max_simulated_seconds must be a positive number, got -1"),
    ],
)
def test_bad_budgets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Budget(**kwargs)


def test_bad_evaluation_settings(bench):
    with pytest.raises(ValueError, match="unknown seed_policy 'median'"):
        TabularEvaluator(NB201Space(), "cifar100", "cifar100", seed_policy="median", benchmark=bench)
    with pytest.raises(ValueError, match="has no valid_acc for cifar10, which this dataset searches on"):
        TabularEvaluator(NB201Space(), "cifar10", "cifar10", benchmark=bench)
    with pytest.raises(ValueError, match="only at epoch\\(s\\) 200, not 12"):
        TabularEvaluator(NB201Space(), "cifar100", "cifar100", epoch=12, benchmark=bench)
