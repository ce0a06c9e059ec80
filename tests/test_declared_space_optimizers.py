"""Every black-box optimizer (conf/optimizer/*.yaml without ``requires_training``) on every YAML-declared space
(tiny_cell, darts, chain_cnn; nb201_declared is covered in test_declared_space.py): built the way
nas_exp/components.py builds it, 8 ask/tell rounds on a deterministic synthetic loss, every proposal a valid
configuration that decodes and round-trips; or refused in one line before any ask, saying why. Also: SMAC's
refusals once a small space is used up, and one real SMAC run training chain cells on digits."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from conftest import REPO
from nas_exp import components
from nas_exp.budgets.budget import Budget
from nas_exp.errors import UserError
from nas_exp.optimizers.base import SpaceUsedUp

pytestmark = pytest.mark.usefixtures("torch_one_thread")
SPACES = ("tiny_cell", "darts", "chain_cnn")
BLACK_BOX = tuple(sorted(path.stem for path in (REPO / "conf" / "optimizer").glob("*.yaml")
                         if "requires_training: true" not in path.read_text()
                         and "- darts" not in path.read_text()))  # darts2 extends darts (one-shot)
ROUNDS = 8
SMALL = {"n_initial": 3, "epochs": 5, "n_members": 2, "batch_size": 2, "n_candidates": 10, "n_parents": 3,
         "pool_size": 6, "beam": 2, "population_size": 4, "n_startup_trials": 3, "min_budget": 1, "max_budget": 9}
CONDITIONS = "cannot search a space with conditions or forbidden clauses"
NB201_WEIGHTS = "optimizer.mutation_weights names edge_"  # rea_nb201's NB201 edge names
REFUSED = {  # (optimizer, space) -> what the one-line refusal says
    **{("rea_nb201", s): NB201_WEIGHTS for s in SPACES},
    ("dehb", "darts"): CONDITIONS, ("dehb", "chain_cnn"): CONDITIONS,
    ("pnas", "darts"): "optimizer=pnas grows architectures part by part",
    ("pnas", "chain_cnn"): "optimizer=pnas grows architectures part by part",
    **{(r, "darts"): "REINFORCE samples each hyperparameter independently and cannot respect this space's "
                     "conditions" for r in ("reinforce", "reinforce_nb201")},
    **{(r, "chain_cnn"): "REINFORCE needs categorical .* 'learning_rate' is UniformFloatHyperparameter"
       for r in ("reinforce", "reinforce_nb201")},
}


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=["evaluation=train", "dataset=digits", "progress=false", *overrides])


def build(space_name: str, optimizer_name: str, tmp_path: Path, overrides: tuple[str, ...] = (),
          max_trials: int = ROUNDS):
    """The space and the optimizer as components.build_components builds them, with small settings."""
    cfg = composed([f"search_space={space_name}", f"optimizer={optimizer_name}", *overrides])
    with open_dict(cfg.optimizer):
        for key, value in SMALL.items():
            if key in cfg.optimizer:
                cfg.optimizer[key] = value
        if "cache_root" in cfg.optimizer:  # bananas_zc: no proxy cache; the pool's proxies computed here
            cfg.optimizer.use_cache = False
    space = components.build(cfg.search_space)
    takes_scorer = components.declared(cfg.optimizer, "takes_proxy_scorer", False)
    factory = components.build(components.without(
        cfg.optimizer, components.OPTIMIZER_META_KEYS + (components.SCORER_KEYS if takes_scorer else ())))
    takes_objectives = components.declared(cfg.optimizer, "takes_objectives", False)
    optimizer = factory(configspace=space.configspace, seed=0, output_dir=tmp_path, max_trials=max_trials,
                        expected_trials=max_trials,
                        **({"objectives": ["valid_acc"]} if takes_objectives else {}),
                        **components.encoder_kwargs(cfg, space),
                        **(components.scorer_kwargs(cfg, space) if takes_scorer else {}))
    return space, optimizer


def synthetic_loss(space, arch) -> float:
    """A deterministic loss in [0, 1] from the architecture's key (the same in every process)."""
    return int(hashlib.sha256(space.key(arch).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def round_trips(space, config) -> None:
    config.check_valid_configuration()
    arch = space.from_config(config)
    assert space.from_key(space.key(arch)) == arch
    again = space.to_config(arch, space.hyperparameters(config)) if space.training_hyperparameters else \
        space.to_config(arch)
    assert again == config


CELLS = [(o, s) for s in SPACES for o in BLACK_BOX if o != "bananas_zc" or s == "tiny_cell"]


@pytest.mark.parametrize("optimizer_name,space_name", CELLS)
def test_every_black_box_optimizer_on_every_declared_space(optimizer_name, space_name, tmp_path):
    if (optimizer_name, space_name) in REFUSED:
        with pytest.raises(UserError, match=REFUSED[optimizer_name, space_name]) as err:
            build(space_name, optimizer_name, tmp_path)
        assert "\n" not in str(err.value)
        return
    space, optimizer = build(space_name, optimizer_name, tmp_path)
    for _ in range(ROUNDS):
        trial = optimizer.ask()
        round_trips(space, trial.config)
        if optimizer.uses_budgets:
            assert trial.budget is not None and SMALL["min_budget"] <= trial.budget <= SMALL["max_budget"]
        optimizer.tell(trial, synthetic_loss(space, space.from_config(trial.config)), 1.0)
    optimizer.close()


def test_the_matrix_covers_every_black_box_optimizer():
    assert {"random", "rea", "local_search", "smac", "smac_bb", "smac_parego", "hyperband", "bohb", "dehb",
            "tpe", "nsga2", "bananas", "bananas_zc", "npenas", "pnas", "reinforce"} <= set(BLACK_BOX)
    assert not {"darts", "darts2", "enas", "gdas", "rsws", "spos"} & set(BLACK_BOX)


@pytest.mark.parametrize("space_name", ["darts", "chain_cnn"])
def test_mutations_stay_valid_on_conditional_spaces(space_name, tmp_path):
    """REA and local search move by one-exchange neighbours, which must respect the conditions (darts' node
    inputs, chain_cnn's dropout block) over many moves."""
    for name in ("rea", "local_search"):
        space, optimizer = build(space_name, name, tmp_path / name, max_trials=40)
        for _ in range(40):
            trial = optimizer.ask()
            round_trips(space, trial.config)
            optimizer.tell(trial, synthetic_loss(space, space.from_config(trial.config)), 1.0)


def test_exhaustive_acquisition_on_a_conditional_space_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"exhaustive acquisition needs a ConfigSpace without conditions or "
                                        r"forbidden clauses \(this one has 1\): use acquisition=local_search"):
        build("chain_cnn", "smac", tmp_path, ("optimizer.acquisition=exhaustive",))


def test_smac_refuses_a_budget_larger_than_the_space(tmp_path):
    space, optimizer = build("tiny_cell", "smac", tmp_path)
    components.check_space_room(optimizer, Budget(max_evaluations=18), space)
    with pytest.raises(UserError, match="optimizer=smac proposes each configuration once, and search_space="
                                        "tiny_cell has at most 18: budget.max_evaluations=19 would use it up"):
        components.check_space_room(optimizer, Budget(max_evaluations=19), space)
    _, random = build("tiny_cell", "random", tmp_path / "random")
    components.check_space_room(random, Budget(max_evaluations=19), space)  # random repeats


@pytest.mark.parametrize("optimizer_name,evaluated", [("smac", "18"), ("hyperband", "18"), ("bohb", "1[0-9]")])
def test_smac_says_when_a_small_space_is_used_up(optimizer_name, evaluated, tmp_path):
    """Past its 18 cells, SMAC (each configuration once) and Hyperband (new configurations per bracket) stop with
    one line (``SpaceUsedUp``, the run's stop reason), not SMAC's ConfigurationSpaceExhaustedException or an
    IndexError; it says how many configurations were evaluated (BOHB: a bracket it could not fill is dropped)."""
    space, optimizer = build("tiny_cell", optimizer_name, tmp_path, max_trials=40)
    asked = []
    with pytest.raises(SpaceUsedUp, match=f"^optimizer={optimizer_name} found no configuration left that it has not "
                                          f"proposed, after [0-9]+ trials of this run: the space is used up "
                                          f"\\({evaluated} of its 18 configurations evaluated") as err:
        for _ in range(40):
            trial = optimizer.ask()
            asked.append(space.key(space.from_config(trial.config)))
            optimizer.tell(trial, synthetic_loss(space, space.from_config(trial.config)), 1.0)
    assert "\n" not in str(err.value) and isinstance(err.value, UserError)
    assert f"after {len(asked)} trials" in str(err.value)
    if evaluated == "18":
        assert len(set(asked)) == 18


def test_hyperband_proposes_every_cell_of_a_small_space_before_it_stops(tmp_path):
    """SMAC's random retries (16 + the proposed ones) miss the last few of 18 cells; SMAC would declare the space
    exhausted with cells left (seeds 3 and 5: 11 and 12 of 18 evaluated). ``LookupConfigSelector`` then takes one
    not proposed yet, so every seed's Hyperband evaluates all 18 before it stops."""
    from nas_exp.optimizers.smac_multifidelity import SMACMultiFidelity

    space = components.build(composed(["search_space=tiny_cell"]).search_space)
    for seed in range(6):
        optimizer = SMACMultiFidelity(space.configspace, seed=seed, output_dir=tmp_path / str(seed), max_trials=60,
                                      kind="hyperband", min_budget=1, max_budget=9)
        with pytest.raises(SpaceUsedUp, match=r"the space is used up \(18 of its 18 configurations evaluated"):
            for _ in range(60):
                trial = optimizer.ask()
                optimizer.tell(trial, synthetic_loss(space, space.from_config(trial.config)), 1.0)


def four_cells_conf(tmp_path: Path) -> Path:
    """A conf folder declaring a cell of one edge with 4 ops: 4 cells."""
    conf = tmp_path / "conf" / "search_space"
    conf.mkdir(parents=True)
    (conf / "four_cells.yaml").write_text(
        "_target_: nas_exp.search_spaces.declared.DeclaredCellSpace\nname: four_cells\n"
        "cell: {nodes: 2, ops: [skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3], edges: [0->1]}\n"
        "macro: {widths: [1]}\n")
    return tmp_path / "conf"


@pytest.mark.parametrize("optimizer_name", ["hyperband", "bohb"])
def test_multi_fidelity_runs_on_a_space_smaller_than_their_budget_stop_with_a_reason(optimizer_name, tmp_path,
                                                                                     monkeypatch):
    """Hyperband and BOHB on a 4-cell space with a budget of 20 trials, training on digits: the run ends when no
    configuration is left for a new bracket, writes its result.json and says why in stop_reason."""
    import json

    from nas_exp.app import run_experiment

    conf = four_cells_conf(tmp_path)
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    cfg = composed([f"hydra.searchpath=[file://{conf}]", "search_space=four_cells", f"optimizer={optimizer_name}",
                    "optimizer.min_budget=1", "optimizer.max_budget=3", "evaluation.epochs=3",
                    "evaluation.recipe.epochs=3", "evaluation.recipe.steps_per_epoch=1", "evaluation.C=2",
                    "evaluation.N=1", "evaluation.checkpoint_dir=null", "evaluation.report_test=false",
                    "budget.max_evaluations=20"])
    summary = run_experiment(cfg, tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "result.json").read_text())
    with open(tmp_path / "run" / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    reason = recorded["stop_reason"]
    assert reason == summary["stop_reason"] and "\n" not in reason
    assert reason.startswith(f"optimizer={optimizer_name} found no configuration left that it has not proposed, "
                             f"after {len(rows)} trials of this run: the space is used up (")
    assert "of its 4 configurations evaluated" in reason
    assert 0 < recorded["n_evaluations"] == len(rows) < 20
    assert {row["epochs"] for row in rows} <= {"1", ""}  # 1 epoch, or full training (3 epochs)
    assert recorded["incumbent"] is not None


def test_smac_trains_chain_cells_on_digits(tmp_path, monkeypatch):
    from nas_exp.app import run_experiment
    from nas_exp.search_spaces.declared_chain import DeclaredChainSpace

    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    cfg = composed(["search_space=chain_cnn", "optimizer=smac", "budget.max_evaluations=3", "evaluation.epochs=1",
                    "evaluation.recipe.steps_per_epoch=3", "evaluation.checkpoint_dir=null"])
    run_experiment(cfg, tmp_path / "run")
    with open(tmp_path / "run" / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    space = DeclaredChainSpace.from_yaml(REPO / "conf" / "search_space" / "chain_cnn.yaml")
    assert len(rows) == 3
    for row in rows:
        assert space.key(space.from_key(row["arch"])) == row["arch"] and 0.0 <= float(row["valid_acc"]) <= 100.0
        assert "learning_rate" in row["hyperparameters"]


def test_network_size_settings_on_a_chain_space_are_refused(tmp_path, monkeypatch):
    """chain_cnn's widths and repeats are its hyperparameters: evaluation.C/N would be ignored."""
    from nas_exp.app import run_experiment

    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path))
    cfg = composed(["search_space=chain_cnn", "optimizer=random", "budget.max_evaluations=1", "evaluation.C=4",
                    "evaluation.checkpoint_dir=null"])
    with pytest.raises(UserError, match=r"search_space=chain_cnn takes its widths and repeats from its "
                                        r"hyperparameters, so evaluation.C=4 would be ignored; drop it$"):
        run_experiment(cfg, tmp_path / "run")
