"""The optimizer suite: each respects the budget exactly, is deterministic per seed, proposes only valid
configurations, and the model-based / local ones beat random search's median on a synthetic objective."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import pytest

from nas_exp.benchmarks.nb201_tabular import NB201_METRICS, NB201_RECIPE
from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import Evaluation
from nas_exp.optimizers.bananas import Bananas
from nas_exp.optimizers.dehb_optimizer import DEHBOptimizer
from nas_exp.optimizers.local_search import LocalSearch
from nas_exp.optimizers.npenas import NPENAS
from nas_exp.optimizers.pnas import PNAS
from nas_exp.optimizers.optuna_nsga2 import OptunaNSGAII
from nas_exp.optimizers.optuna_tpe import OptunaTPE
from nas_exp.optimizers.random_search import RandomSearch
from nas_exp.optimizers.regularized_evolution import RegularizedEvolution
from nas_exp.optimizers.reinforce import Reinforce
from nas_exp.optimizers.smac_blackbox import SMACBlackBox
from nas_exp.optimizers.smac_hpo import SMACOptimizer
from nas_exp.optimizers.smac_multifidelity import SMACMultiFidelity
from nas_exp.runner import charged_cost, run_search
from nas_exp.search_spaces.nb201 import OPS, Arch, NB201Space

SPACE = NB201Space()


@dataclass
class SyntheticEvaluator:
    """An additive objective over (edge, op) with a known optimum; accuracy after ``epochs`` is the final
    accuracy scaled by epochs/200, the cost 1 s per epoch."""

    weights: np.ndarray
    max_epochs: int = 200
    description: str = "synthetic"
    missing_note: str = ""
    ignores_budgets = False
    search_metric = NB201_METRICS["valid_acc"]
    report_metric = NB201_METRICS["test_acc"]

    def score(self, arch: Arch) -> float:
        return float(sum(self.weights[i, OPS.index(op)] for i, op in enumerate(arch)))

    def evaluate(self, arch, rng, epochs=None, hyperparameters=None) -> Evaluation:
        final = 50.0 + self.score(arch)
        trained = self.max_epochs if epochs is None else epochs
        return Evaluation(value=final * trained / self.max_epochs, test=final, cost=float(trained),
                          epochs=epochs)

    @property
    def optimum(self) -> float:
        return 50.0 + float(self.weights.max(axis=1).sum())


def synthetic(seed: int = 0) -> SyntheticEvaluator:
    return SyntheticEvaluator(np.random.default_rng(1000 + seed).normal(0, 5, size=(6, 5)))


def make(cls, seed: int, tmp_path=None, max_trials: int | None = None, **kwargs):
    return cls(SPACE.configspace, seed=seed, output_dir=tmp_path, max_trials=max_trials, **kwargs)


FAST = [
    (RandomSearch, {}),
    (RegularizedEvolution, {}),
    (LocalSearch, {"improvement": "best"}),
    (LocalSearch, {"improvement": "first"}),
    (Reinforce, {}),
    (OptunaTPE, {}),
    (OptunaNSGAII, {}),
    (Bananas, {"epochs": 50}),
    (NPENAS, {"epochs": 50, "batch_size": 5}),
    (PNAS, {"epochs": 30}),
]
SMAC = [
    (SMACOptimizer, {}),
    (SMACBlackBox, {"gp_warmup": 3, "gp_growth": 1.0}),  # kernel fits at 1, 2, 3, 6, 12: a cheaper GP schedule
    (SMACMultiFidelity, {"kind": "hyperband"}),
    (SMACMultiFidelity, {"kind": "bohb"}),
    (DEHBOptimizer, {}),
]


def search(cls, kwargs, seed, n, tmp_path, evaluator=None, budget=None):
    evaluator = evaluator or synthetic()
    optimizer = make(cls, seed, tmp_path, max_trials=n, **kwargs)
    return run_search(SPACE, optimizer, evaluator, budget or Budget(max_evaluations=n), seed)


@pytest.mark.parametrize("cls,kwargs", FAST + SMAC, ids=lambda x: getattr(x, "__name__", str(x)))
def test_budget_exact_valid_configs_and_deterministic(cls, kwargs, tmp_path):
    n = {SMACBlackBox: 12, SMACOptimizer: 40, SMACMultiFidelity: 40}.get(cls, 60)
    proposed = []

    class Recording(SyntheticEvaluator):
        def evaluate(self, arch, rng, epochs=None, hyperparameters=None):
            proposed.append(arch)
            return super().evaluate(arch, rng, epochs, hyperparameters)

    first = search(cls, kwargs, 3, n, tmp_path / "a", Recording(synthetic().weights))
    assert len(first.rows) == n  # the evaluation budget, exactly
    for arch in proposed:  # every proposal decodes to a valid cell and a valid configuration
        SPACE.to_config(arch).check_valid_configuration()
    second = search(cls, kwargs, 3, n, tmp_path / "b")
    assert [r.arch for r in first.rows] == [r.arch for r in second.rows]
    assert [r.epochs for r in first.rows] == [r.epochs for r in second.rows]
    other = search(cls, kwargs, 4, n, tmp_path / "c")
    assert [r.arch for r in other.rows] != [r.arch for r in first.rows]


@pytest.mark.parametrize("cls,kwargs", FAST + [(SMACMultiFidelity, {"kind": "bohb"})],
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_simulated_time_budget_never_overrun(cls, kwargs, tmp_path):
    budget = Budget(max_simulated_seconds=5_000)
    result = search(cls, kwargs, 0, None, tmp_path, budget=budget)
    assert result.rows[-1].simulated_time <= 5_000
    assert result.stop_reason.startswith("the next evaluation would overrun")
    assert sum(r.cost for r in result.rows) == pytest.approx(result.rows[-1].simulated_time)


def final_regrets(cls, kwargs, n, seeds, tmp_path) -> list[float]:
    regrets = []
    for seed in seeds:
        evaluator = synthetic(seed)
        result = search(cls, kwargs, seed, n, tmp_path / str(seed), evaluator)
        regrets.append(evaluator.optimum - result.rows[-1].incumbent_test)
    return regrets


@pytest.mark.parametrize("cls,kwargs,n,seeds", [
    (RegularizedEvolution, {}, 150, range(9)),
    (LocalSearch, {"improvement": "best"}, 150, range(9)),
    (LocalSearch, {"improvement": "first"}, 150, range(9)),
    (SMACOptimizer, {}, 40, range(5)),
    (OptunaTPE, {}, 60, range(9)),
    (Bananas, {"epochs": 100}, 40, range(5)),
    (NPENAS, {"epochs": 100, "batch_size": 3}, 40, range(5)),
], ids=["rea", "ls-best", "ls-first", "smac", "tpe", "bananas", "npenas"])
def test_beats_random_search_median(cls, kwargs, n, seeds, tmp_path):
    ours = statistics.median(final_regrets(cls, kwargs, n, seeds, tmp_path / "ours"))
    rs = statistics.median(final_regrets(RandomSearch, {}, n, seeds, tmp_path / "rs"))
    assert ours < rs, (ours, rs)


def test_reinforce_policy_moves_towards_better_ops(tmp_path):
    evaluator = synthetic(0)
    optimizer = make(Reinforce, 0, learning_rate=0.03)
    run_search(SPACE, optimizer, evaluator, Budget(max_evaluations=300), 0)
    best_ops = evaluator.weights.argmax(axis=1)
    probs = optimizer.probabilities()
    assert sum(int(np.argmax(p) == b) for p, b in zip(probs, best_ops)) >= 4
    assert np.mean([p[b] for p, b in zip(probs, best_ops)]) > 0.4  # up from 1/5


@pytest.mark.parametrize("cls,kwargs", [(SMACMultiFidelity, {"kind": "hyperband"}), (DEHBOptimizer, {})],
                         ids=["hyperband", "dehb"])
def test_multi_fidelity_budgets_charges_and_incumbent(cls, kwargs, tmp_path):
    optimizer = make(cls, 0, tmp_path, max_trials=80, min_budget=12, max_budget=200, eta=3, **kwargs)
    assert optimizer.budgets() == [22, 67, 200]
    result = run_search(SPACE, optimizer, synthetic(), Budget(max_evaluations=80), 0)
    epochs = {r.epochs for r in result.rows}
    assert epochs == {22, 67, None}  # 200 epochs is full training
    for row in result.rows:  # not resuming: each trial is charged the epochs it trained from scratch
        assert row.cost == (200.0 if row.epochs is None else float(row.epochs))
    full = [r for r in result.rows if r.epochs is None]
    first_full = result.rows.index(full[0])
    assert all(r.incumbent_arch is None for r in result.rows[:first_full])  # low fidelity never an incumbent
    assert result.rows[-1].incumbent_test == max(r.test for r in full)


def test_resuming_optimizer_pays_only_the_extra_epochs():
    short = Evaluation(value=1.0, test=None, cost=22.0, epochs=22)
    longer = Evaluation(value=2.0, test=None, cost=67.0, epochs=67)
    assert charged_cost(longer, short, resumes=True) == 45.0
    assert charged_cost(longer, short, resumes=False) == 67.0
    assert charged_cost(longer, None, resumes=True) == 67.0


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="sample_size must be an int in 1..population_size"):
        make(RegularizedEvolution, 0, population_size=5, sample_size=6)
    with pytest.raises(ValueError, match="unknown optimizer.improvement 'steepest'"):
        make(LocalSearch, 0, improvement="steepest")
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        make(Reinforce, 0, learning_rate=0)
    with pytest.raises(ValueError, match="min_budget must be in"):
        make(SMACMultiFidelity, 0, min_budget=300, max_budget=200)
    with pytest.raises(ValueError, match="min_budget must be in"):
        make(DEHBOptimizer, 0, min_budget=300, max_budget=200)
    with pytest.raises(ValueError, match=r"optimizer.crossover_prob must be in \(0, 1\], got 0"):
        make(DEHBOptimizer, 0, crossover_prob=0)


def test_dehb_refuses_a_space_with_forbidden_clauses():
    from ConfigSpace import Categorical, ConfigurationSpace, ForbiddenEqualsClause

    cs = ConfigurationSpace()
    op = Categorical("op", ["a", "b"])
    cs.add([op, ForbiddenEqualsClause(op, "b")])
    with pytest.raises(ValueError, match="optimizer=dehb cannot search a space with conditions or forbidden"):
        DEHBOptimizer(cs, seed=0)


def test_rea_nb201_mutation_picks_a_node_then_an_input_edge():
    """rea_nb201's weights make edge 1<-0 three times as likely as each of node 3's edges (1/3 vs 1/9)."""
    from nas_exp.optimizers.regularized_evolution import RegularizedEvolution
    from nas_exp.search_spaces.nb201 import EDGE_NAMES, NB201Space

    space = NB201Space()
    weights = {"edge_1_0": 1 / 3, "edge_2_0": 1 / 6, "edge_2_1": 1 / 6, "edge_3_0": 1 / 9, "edge_3_1": 1 / 9,
               "edge_3_2": 1 / 9}
    rea = RegularizedEvolution(space.configspace, seed=0, tournament="with_replacement", mutation_weights=weights)
    parent = space.to_config(space.sample(np.random.default_rng(1)))
    changed = []
    for _ in range(9000):
        child = rea._weighted_mutation(parent)
        diff = [name for name in EDGE_NAMES if child[name] != parent[name]]
        assert len(diff) == 1  # exactly one edge, to another op
        changed.append(diff[0])
    for name, weight in weights.items():
        share = changed.count(name) / len(changed)
        assert abs(share - weight) < 4 * (weight * (1 - weight) / len(changed)) ** 0.5, (name, share, weight)


def test_rea_checks_its_variant_settings():
    from nas_exp.optimizers.regularized_evolution import RegularizedEvolution
    from nas_exp.search_spaces.nb201 import NB201Space

    space = NB201Space()
    with pytest.raises(ValueError, match="unknown optimizer.tournament 'sometimes'"):
        RegularizedEvolution(space.configspace, seed=0, tournament="sometimes")
    with pytest.raises(ValueError, match="mutation_weights names edge_9_9; the space's hyperparameters are edge_1_0"):
        RegularizedEvolution(space.configspace, seed=0, mutation_weights={"edge_9_9": 1.0})
