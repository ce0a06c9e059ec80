"""Train mode, the evaluator: TrainEvaluator returns sane Evaluations, draws its torch seed from the search's
generator, handles fidelities and hyperparameters, cleans up its checkpoints; the joint NB201 + HPO space; a search
through the real runner; and `run.py evaluation=train dataset=digits` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import UniformFloatHyperparameter

torch = pytest.importorskip("torch", reason="train mode needs the train extra: pip install -e '.[train]'")

from conftest import run_cli  # noqa: E402
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.budgets.budget import Budget  # noqa: E402
from nas_exp.evaluation.base import Evaluation  # noqa: E402
from nas_exp.evaluation.train import TrainEvaluator  # noqa: E402
from nas_exp.models.network import NB201Network, count_parameters_mb  # noqa: E402
from nas_exp.optimizers.random_search import RandomSearch  # noqa: E402
from nas_exp.runner import run_search  # noqa: E402
from nas_exp.search_spaces.nb201 import EDGE_NAMES, Arch  # noqa: E402
from nas_exp.search_spaces.nb201_hpo import NB201HPOSpace  # noqa: E402
from nas_exp.training.trainer import Trainer  # noqa: E402
from test_train_data import fake_cifar10  # noqa: E402

ARCH = Arch.from_index(6111)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory) -> TrainEvaluator:
    """digits, C=4, N=1: an evaluation trains 2 epochs (of a 4-epoch schedule) in a fraction of a second."""
    return TrainEvaluator(NB201Space(), "digits", "digits", C=4, N=1, epochs=2, recipe={"epochs": 4, "batch_size": 128},
                          device="cpu", checkpoint_dir=tmp_path_factory.mktemp("checkpoints"))


def test_evaluation_fields_are_sane(evaluator):
    result = evaluator.evaluate(ARCH, np.random.default_rng(0))
    assert isinstance(result, Evaluation)
    assert 0.0 <= result.value <= 100.0 and 0.0 <= result.test <= 100.0
    assert result.value > 15.0  # two epochs on digits beat chance (10%)
    assert 0.0 < result.cost < 60.0 and isinstance(result.seed, int)
    assert result.epochs is None  # a full evaluation: evaluator.max_epochs epochs
    assert result.metrics["params"] == pytest.approx(count_parameters_mb(NB201Network(ARCH, C=4, N=1)))
    assert result.metrics["train_loss"] > 0 and result.metrics["valid_loss"] > 0
    assert evaluator.max_epochs == 2 and evaluator.missing_note == ""
    assert "first 2 epochs of the 4-epoch cosine schedule" in evaluator.description
    assert "search on digits valid_acc" in evaluator.description
    assert list(evaluator.checkpoint_dir.glob("*.pt")) == []  # deleted once the evaluation completed


def test_the_search_seed_decides_the_result(evaluator):
    first = evaluator.evaluate(ARCH, np.random.default_rng(11))
    again = evaluator.evaluate(ARCH, np.random.default_rng(11))
    other = evaluator.evaluate(ARCH, np.random.default_rng(12))
    assert first.seed == again.seed == int(np.random.default_rng(11).integers(2**31 - 1))
    assert (first.value, first.test, first.metrics["train_loss"]) == (
        again.value, again.test, again.metrics["train_loss"])
    assert other.seed != first.seed and other.metrics["train_loss"] != first.metrics["train_loss"]


def test_fidelity_and_hyperparameters(evaluator):
    low = evaluator.evaluate(ARCH, np.random.default_rng(3), epochs=1)
    assert low.epochs == 1 and low.cost > 0
    tuned = evaluator.evaluate(ARCH, np.random.default_rng(3), hyperparameters={"learning_rate": np.float64(0.01),
                                                                                "weight_decay": 1e-5})
    default = evaluator.evaluate(ARCH, np.random.default_rng(3))
    assert tuned.seed == default.seed and tuned.metrics["train_loss"] != default.metrics["train_loss"]
    with pytest.raises(ValueError, match=r"epochs must be an int in 1\.\.2"):
        evaluator.evaluate(ARCH, np.random.default_rng(3), epochs=3)
    with pytest.raises(ValueError, match="unknown training recipe key"):
        evaluator.evaluate(ARCH, np.random.default_rng(3), hyperparameters={"dropout": 0.1})


def test_an_interrupted_evaluation_resumes_from_its_checkpoint(evaluator, monkeypatch):
    """A killed run leaves its evaluation's checkpoint after epoch 1; evaluating again trains only epoch 2 and
    ends exactly where an uninterrupted evaluation does."""
    seed = int(np.random.default_rng(21).integers(2**31 - 1))  # the seed evaluate() will draw
    left: list = []
    evaluator.train(ARCH, evaluator.search_data, evaluator.recipe, seed, 1, left)  # 1 of 2 epochs, not cleaned up
    assert left[0].is_file()
    trained = []
    original = Trainer.train_epoch
    monkeypatch.setattr(Trainer, "train_epoch",
                        lambda self, *args, **kw: trained.append(self.epoch) or original(self, *args, **kw))
    resumed = evaluator.evaluate(ARCH, np.random.default_rng(21))
    assert trained == [1]  # only the second epoch was trained
    assert not left[0].exists()
    no_checkpoints = TrainEvaluator(NB201Space(), "digits", "digits", C=4, N=1, epochs=2, recipe={"epochs": 4, "batch_size": 128},
                                    device="cpu", checkpoint_dir=None)
    uninterrupted = no_checkpoints.evaluate(ARCH, np.random.default_rng(21))
    assert trained == [1, 0, 1]
    assert (resumed.value, resumed.test, resumed.metrics["train_loss"]) == (
        uninterrupted.value, uninterrupted.test, uninterrupted.metrics["train_loss"])


def test_constructor_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'svhn' for training; valid: cifar10-valid, cifar10, "):
        TrainEvaluator(NB201Space(), "svhn", "svhn", device="cpu")
    with pytest.raises(FileNotFoundError, match="cifar100 images not found"):
        TrainEvaluator(NB201Space(), "cifar100", "cifar100", data_root=tmp_path, device="cpu")
    with pytest.raises(ValueError, match=r"evaluation.epochs \(<= recipe.epochs\) must be an int in 1\.\.4"):
        TrainEvaluator(NB201Space(), "digits", "digits", epochs=5, recipe={"epochs": 4}, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
            TrainEvaluator(NB201Space(), "digits", "digits", device="cuda")


def test_cifar10_protocol_on_fake_files(tmp_path):
    """dataset=cifar10: search on cifar10-valid's validation half, test accuracy from a net trained on all of
    CIFAR-10's training set; cifar10 itself has no validation split to search on."""
    fake_cifar10(tmp_path)
    evaluator = TrainEvaluator(NB201Space(), "cifar10-valid", "cifar10", C=4, N=1, epochs=1, recipe={"epochs": 1, "batch_size": 16},
                               data_root=tmp_path, device="cpu")
    assert len(evaluator.report_data.train) == 2 * len(evaluator.search_data.train) == 40
    assert "cifar10-valid train/valid: seeded 20/20 split" in evaluator.missing_note
    result = evaluator.evaluate(Arch(("nor_conv_1x1",) * 6), np.random.default_rng(0))
    assert result.test is not None and result.cost > 0
    with pytest.raises(ValueError, match="cifar10 has no validation split"):
        TrainEvaluator(NB201Space(), "cifar10", "cifar10", data_root=tmp_path, device="cpu")
    quiet = TrainEvaluator(NB201Space(), "cifar10-valid", "cifar10", C=4, N=1, epochs=1, recipe={"epochs": 1}, data_root=tmp_path,
                           device="cpu", report_test=False)
    assert quiet.evaluate(ARCH, np.random.default_rng(0)).test is None
    assert "not measured" in quiet.missing_note


def test_hpo_space_adds_log_uniform_learning_rate_and_weight_decay():
    space = NB201HPOSpace(seed=0)
    lr, wd = space.configspace["learning_rate"], space.configspace["weight_decay"]
    assert isinstance(lr, UniformFloatHyperparameter) and isinstance(wd, UniformFloatHyperparameter)
    assert lr.log and (lr.lower, lr.upper, lr.default_value) == (1e-3, 1.0, 0.1)
    assert wd.log and (wd.lower, wd.upper) == (1e-5, 1e-2)
    assert list(space.configspace)[:6] == list(EDGE_NAMES)
    config = space.to_config(ARCH, {"learning_rate": 0.02})
    assert space.from_config(config) == ARCH
    assert space.hyperparameters(config) == {"learning_rate": 0.02, "weight_decay": 5e-4}
    for config in space.configspace.sample_configuration(20):
        hp = space.hyperparameters(config)
        assert 1e-3 <= hp["learning_rate"] <= 1.0 and 1e-5 <= hp["weight_decay"] <= 1e-2
        assert isinstance(space.from_config(config), Arch)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        space.to_config(ARCH, {"momentum": 0.5})


def test_joint_search_through_the_runner(evaluator):
    """The runner hands each configuration's learning rate and weight decay to the trained evaluation."""
    space = NB201HPOSpace()
    seen = []

    class Recording:
        max_epochs = evaluator.max_epochs
        description = missing_note = ""
        search_metric, report_metric = evaluator.search_metric, evaluator.report_metric
        ignores_budgets = False

        def evaluate(self, arch, rng, epochs=None, hyperparameters=None):
            seen.append(hyperparameters)
            return evaluator.evaluate(arch, rng, epochs=epochs, hyperparameters=hyperparameters)

    result = run_search(space, RandomSearch(space.configspace, seed=0), Recording(), Budget(max_evaluations=2), 0)
    assert len(result.rows) == 2 and all(row.cost > 0 for row in result.rows)
    assert [sorted(h) for h in seen] == [["learning_rate", "weight_decay"]] * 2
    assert seen[0] != seen[1]


def _run_dirs(root: Path) -> list[Path]:
    return [p.parent for p in root.glob("outputs/runs/*/*/trajectory.csv")]


def test_cli_train_mode_on_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    done = run_cli(["evaluation=train", "dataset=digits", "optimizer=random", "budget.max_evaluations=2",
                    "evaluation.epochs=1", "evaluation.C=4", "evaluation.N=1"], tmp_path, tmp_path / "store")
    assert done.returncode == 0, done.stderr
    (run_dir,) = _run_dirs(tmp_path)
    with open(run_dir / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(float(r["cost"]) > 0 and 0 <= float(r["valid_acc"]) <= 100 for r in rows)
    assert all(r["test_acc"] != "" for r in rows)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["evaluation"].startswith("trained nb201 network (C=4, N=1; first 1 epochs of the 200-epoch")
    assert result["config"]["evaluation"]["checkpoint_dir"] == str(run_dir / "checkpoints")
    assert list(run_dir.glob("checkpoints/*.pt")) == []


@pytest.mark.parametrize("optimizer", [["optimizer=smac"], ["optimizer=bohb", "optimizer.min_budget=1",
                                                                   "optimizer.max_budget=3"]], ids=["smac", "bohb"])
def test_cli_joint_architecture_and_hyperparameter_search(tmp_path, monkeypatch, optimizer):
    """search_space=nb201_hpo with SMAC (its local search: the space is continuous) and BOHB (epochs as the
    fidelity): every trajectory row and the result name the learning rate and weight decay that were trained."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    done = run_cli(["search_space=nb201_hpo", "evaluation=train", "dataset=digits", *optimizer,
                    "budget.max_evaluations=6", "evaluation.recipe.epochs=3", "evaluation.C=4", "evaluation.N=1"],
                   tmp_path, tmp_path / "store")
    assert done.returncode == 0, done.stderr
    (run_dir,) = _run_dirs(tmp_path)
    with open(run_dir / "trajectory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    trained = [json.loads(row["hyperparameters"]) for row in rows]
    assert all(sorted(hp) == ["learning_rate", "weight_decay"] for hp in trained)
    assert all(1e-3 <= hp["learning_rate"] <= 1.0 and 1e-5 <= hp["weight_decay"] <= 1e-2 for hp in trained)
    assert len({(hp["learning_rate"], hp["weight_decay"]) for hp in trained}) > 1
    incumbent = json.loads((run_dir / "result.json").read_text())["incumbent"]
    assert incumbent["arch"] == rows[-1]["incumbent_arch"]
    assert incumbent["hyperparameters"] == json.loads(rows[-1]["incumbent_hyperparameters"])
    # the incumbent is a full training: its row's own accuracy and hyperparameters are the result's
    source = next(r for r in rows if r["epochs"] == "" and r["arch"] == incumbent["arch"]
                  and json.loads(r["hyperparameters"]) == incumbent["hyperparameters"])
    assert float(source["valid_acc"]) == incumbent["valid_acc"]
    if "optimizer=bohb" in optimizer:
        assert {r["epochs"] for r in rows} >= {"1", ""}  # low fidelities and full trainings
    assert "learning_rate" in done.stdout and "weight_decay" in done.stdout


def test_cli_missing_images_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    done = run_cli(["evaluation=train", "dataset=cifar100", "optimizer=random", f"evaluation.data_root={tmp_path}"],
                   tmp_path, tmp_path / "store")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cifar100 images not found: expected train, test in ")
    assert _run_dirs(tmp_path) == [] and not list(tmp_path.glob("outputs/runs/*/*/result.json"))


def test_evaluation_threads_sets_torchs_threads_and_refuses_bad_values():
    import torch

    from nas_exp.errors import UserError
    from nas_exp.torch_threads import set_torch_threads

    before = torch.get_num_threads()
    try:
        set_torch_threads(1)
        assert torch.get_num_threads() == 1
        set_torch_threads(None)  # torch's default: left alone
        assert torch.get_num_threads() == 1
        for bad in (0, -2, 1.5, True, "2"):
            with pytest.raises(UserError, match=r"evaluation.threads must be an int >= 1 .* got") as info:
                set_torch_threads(bad)
            assert "\n" not in str(info.value)
    finally:
        torch.set_num_threads(before)
