"""The Optuna adapters (optimizer=tpe, optimizer=nsga2): how a ConfigSpace is translated, conditions and forbidden
clauses respected, and a clear error without optuna. Runs on every space are in test_space_matrix.py."""

from __future__ import annotations

import sys

import pytest
from ConfigSpace import (Categorical, ConfigurationSpace, EqualsCondition, Float, ForbiddenAndConjunction,
                         ForbiddenEqualsClause, Integer, OrdinalHyperparameter)

from nas_exp.errors import UserError
from nas_exp.optimizers.optuna_nsga2 import OptunaNSGAII
from nas_exp.optimizers.optuna_tpe import OptunaTPE

optuna = pytest.importorskip("optuna", reason="optuna is not installed (the `optuna` extra)")


def space() -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=0)
    kind = Categorical("kind", ["conv", "mlp"])
    width = Integer("width", (8, 64), log=True)
    lr = Float("lr", (1e-4, 1e-1), log=True)
    depth = OrdinalHyperparameter("depth", [1, 2, 4, 8])
    kernel = Categorical("kernel", [3, 5])
    cs.add([kind, width, lr, depth, kernel, EqualsCondition(kernel, kind, "conv")])
    cs.add(ForbiddenAndConjunction(ForbiddenEqualsClause(kind, "mlp"), ForbiddenEqualsClause(depth, 8)))
    return cs


def losses_of(config) -> float:
    return (config["lr"] - 0.01) ** 2 + config["depth"] + (config["kind"] == "conv")


def run(optimizer, n: int) -> list:
    configs = []
    for _ in range(n):
        trial = optimizer.ask()
        configs.append(trial.config)
        optimizer.tell(trial, losses_of(trial.config), 1.0)
    return configs


@pytest.mark.parametrize("cls", [OptunaTPE, OptunaNSGAII])
def test_proposals_are_valid_respect_conditions_and_repeat_per_seed(cls):
    cs = space()
    first = run(cls(cs, seed=1), 40)
    for config in first:
        config.check_valid_configuration()  # no forbidden (mlp, depth 8), kernel only where kind == conv
        assert ("kernel" in dict(config)) == (config["kind"] == "conv")
        assert config["depth"] in (1, 2, 4, 8) and 8 <= config["width"] <= 64
    assert [dict(c) for c in run(cls(cs, seed=1), 40)] == [dict(c) for c in first]
    assert [dict(c) for c in run(cls(cs, seed=2), 40)] != [dict(c) for c in first]


def test_an_ordinal_is_asked_as_its_position():
    tpe = OptunaTPE(space(), seed=0)
    trial = tpe.ask()
    assert trial.handle.params["depth"] in range(4)  # Optuna sees positions 0..3, which keep the order
    assert trial.config["depth"] == [1, 2, 4, 8][trial.handle.params["depth"]]


def test_tpe_concentrates_on_the_better_region():
    configs = run(OptunaTPE(space(), seed=0, n_startup_trials=10), 80)
    late = configs[-30:]
    assert sum(c["depth"] == 1 for c in late) > 15  # depth 1 is the best by a wide margin


def test_nsga2_takes_two_objectives():
    nsga = OptunaNSGAII(space(), seed=0, objectives=["loss", "params"], population_size=4)
    for _ in range(10):
        trial = nsga.ask()
        nsga.tell(trial, [losses_of(trial.config), float(trial.config["width"])], 1.0)
    assert len(nsga.study.best_trials) >= 1 and len(nsga.study.directions) == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"n_startup_trials": 0}, "optimizer.n_startup_trials must be an int >= 1, got 0"),
    ({"multivariate": "yes"}, "optimizer.multivariate must be true or false, got 'yes'"),
])
def test_bad_tpe_settings_are_one_line(kwargs, message):
    with pytest.raises(UserError, match=message):
        OptunaTPE(space(), seed=0, **kwargs)


def test_without_optuna_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    with pytest.raises(UserError, match=r"optimizer=tpe needs optuna: pip install 'nas-exp\[optuna\]'"):
        OptunaTPE(space(), seed=0)
