"""Chain spaces in the space language (conf/search_space/chain_cnn.yaml, nas_exp/search_spaces/declared_chain.py):
width choices, a repeated chain, an optional dropout block as a ConfigSpace condition, a dependent repeat count,
training hyperparameters beside the architecture; trained on digits; declaration errors name file and key."""

from __future__ import annotations

import copy
import csv

import pytest
import yaml
from ConfigSpace import EqualsCondition
from hydra import compose, initialize_config_dir

from conftest import REPO
from nas_exp.search_spaces.base import NETWORK
from nas_exp.search_spaces.declared import DeclarationError
from nas_exp.search_spaces.declared_chain import DeclaredChainSpace

pytestmark = pytest.mark.usefixtures("torch_one_thread")
CHAIN_YAML = REPO / "conf" / "search_space" / "chain_cnn.yaml"


def test_chain_space_configspace_conditions_and_dependent_values():
    torch = pytest.importorskip("torch")
    space = DeclaredChainSpace.from_yaml(CHAIN_YAML)
    assert space.capabilities == {NETWORK} and len(space) == 3 * 3 * 2 * (2 + 1)
    assert space.training_hyperparameters == ("learning_rate", "weight_decay")
    (condition,) = space.configspace.conditions
    assert isinstance(condition, EqualsCondition) and (condition.child.name, condition.parent.name,
                                                      condition.value) == ("dropout_rate", "use_dropout", True)
    assert "repeat_2" not in space.configspace  # dependent: computed, not chosen
    arch = (16, 32, 2, True, 0.5)
    assert space.values(arch)["repeat_2"] == 4 and space.key(arch) == (
        "width_1=16,width_2=32,repeat_1=2,use_dropout=True,dropout_rate=0.5")
    config = space.to_config(arch, {"learning_rate": 0.05})
    assert space.from_config(config) == arch and space.hyperparameters(config) == {"learning_rate": 0.05,
                                                                                   "weight_decay": 5e-4}
    for config in space.configspace.sample_configuration(20):
        arch = space.from_config(config)
        assert space.from_key(space.key(arch)) == arch and (arch[4] is None) == (arch[3] is False)
    net = space.build_network((8, 16, 1, True, 0.25), seed=0, C=1, N=1, num_classes=10, in_channels=1)
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 16]  # repeat_1 = 1, repeat_2 = 2
    assert sum(isinstance(m, torch.nn.Dropout) for m in net.body) == 1
    plain = space.build_network((8, 16, 1, False, None), seed=0, C=1, N=1, num_classes=10, in_channels=1)
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.body)
    # params: 9*1*8 + 16 + (9*8*16 + 32) + (9*16*16 + 32) + 16*10 + 10
    assert sum(p.numel() for p in plain.parameters()) == 72 + 16 + 1184 + 2336 + 170
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_a_run_trains_chain_cells_with_their_hyperparameters_on_digits(tmp_path, monkeypatch):
    from nas_exp.app import run_experiment

    (tmp_path / "store").mkdir()
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["search_space=chain_cnn", "evaluation=train", "dataset=digits",
                                           "evaluation.epochs=1", "evaluation.recipe.steps_per_epoch=3",
                                           "evaluation.checkpoint_dir=null", "budget.max_evaluations=2",
                                           "optimizer=random", "progress=false"])
    run_experiment(cfg, tmp_path / "run")
    with open(tmp_path / "run" / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    space = DeclaredChainSpace.from_yaml(CHAIN_YAML)
    assert len(rows) == 2
    for row in rows:
        assert space.key(space.from_key(row["arch"])) == row["arch"] and 0.0 <= float(row["valid_acc"]) <= 100.0
        assert "learning_rate" in row["hyperparameters"] and "weight_decay" in row["hyperparameters"]


BASE = yaml.safe_load(CHAIN_YAML.read_text())
ERRORS = {
    "unknown block": (lambda d: d["blocks"].insert(0, {"block": "conv7"}), "blocks[0].block: unknown block 'conv7'"),
    "unknown block key": (lambda d: d["blocks"][1].update(size=3), "blocks[1].size: unknown key; valid keys: when"),
    "unknown reference": (lambda d: d["blocks"][0].update(width="width_9"),
                          "blocks[0].width: 'width_9' is not a declared hyperparameter"),
    "bad dependent": (lambda d: d["hyperparameters"].update(repeat_2="2 * repeat_9"),
                      "hyperparameters.repeat_2: '2 * repeat_9' names 'repeat_9', not a hyperparameter declared"),
    "dependent call": (lambda d: d["hyperparameters"].update(repeat_2="max(repeat_1, 2)"),
                       "hyperparameters.repeat_2: 'max(repeat_1, 2)': a dependent value is + - * //"),
    "bad condition value": (lambda d: d["hyperparameters"]["dropout_rate"].update(when={"use_dropout": 3}),
                            "hyperparameters.dropout_rate.when: 3 is not a value of use_dropout"),
    "condition on an unknown parameter": (
        lambda d: d["hyperparameters"]["dropout_rate"].update(when={"use_droput": True}),
        "hyperparameters.dropout_rate.when: 'use_droput' is not an unconditional choice (hyperparameters)"),
    "bad range": (lambda d: d["hyperparameters"].update(repeat_1={"range": [3, 1]}),
                  "hyperparameters.repeat_1.range: must be [low, high] ints, low <= high"),
    "no choice": (lambda d: d["hyperparameters"].update(width_1={"when": {"use_dropout": True}}),
                  "hyperparameters.width_1: give choices"),
    "unknown training": (lambda d: d["training"].update(epochs={"range": [1, 2]}),
                         "training.epochs: unknown key; valid keys: learning_rate, weight_decay"),
    "bad training range": (lambda d: d["training"]["learning_rate"].update(range=[0, 1]),
                           "training.learning_rate.range: must be [low, high] with 0 < low < high"),
    "head not last": (lambda d: d["blocks"].append({"block": "max_pool"}),
                      "blocks: the last block, and only it, is the head"),
    "unknown top key": (lambda d: d.update(cell={}), "cell: unknown key; valid keys: _target_, name"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_chain_declaration_errors_name_the_file_and_the_key(tmp_path, case):
    change, expected = ERRORS[case]
    declaration = copy.deepcopy(BASE)
    change(declaration)
    path = tmp_path / "bad_chain.yaml"
    path.write_text(yaml.safe_dump(declaration, sort_keys=False))
    with pytest.raises(DeclarationError) as err:
        DeclaredChainSpace.from_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message
