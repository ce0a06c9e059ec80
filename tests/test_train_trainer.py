"""Train mode, the trainer (CPU, tiny): it learns, it is deterministic, and an interrupted training resumes from its
checkpoint to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="train mode needs the train extra: pip install -e '.[train]'")

from nas_exp.datasets import load_dataset  # noqa: E402
from nas_exp.datasets.images import ImageDataset  # noqa: E402
from nas_exp.models.network import seeded_network  # noqa: E402
from nas_exp.search_spaces.nb201 import Arch  # noqa: E402
from nas_exp.training import DeviceData, Trainer, TrainRecipe, score_split  # noqa: E402
from nas_exp.training.checkpoint import load_checkpoint  # noqa: E402

ARCH = Arch.from_index(6111)  # convs, a skip and a 1x1: every kind of state (BN stats, momentum) is exercised
# A conv, a pool, skips and nones: the same kinds of state in fewer kernels, so a cold Inductor compiles it in about
# 60% of ARCH's time (47 s vs 78 s measured on the busy 2-core machine)
COMPILE_ARCH = Arch.from_str("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|")
DEVICE = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def small_digits() -> DeviceData:
    """320 training and 160 validation digits."""
    full = load_dataset("digits")
    data = ImageDataset("digits", full.train.subset(np.arange(320)), full.valid.subset(np.arange(160)), None,
                        full.num_classes, full.mean, full.std, full.crop_padding, full.flip)
    return DeviceData.from_dataset(data, DEVICE)


def make_trainer(data: DeviceData, seed: int = 0, checkpoint=None, key: str = "k", arch: Arch = ARCH,
                 **recipe) -> Trainer:
    recipe = TrainRecipe(**{"epochs": 4, "batch_size": 64, **recipe})
    model = seeded_network(arch, seed, C=4, N=1, num_classes=data.num_classes)
    return Trainer(model, data, recipe, seed, checkpoint=checkpoint, checkpoint_key=key)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def flat(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """The floating-point tensors of a state dict, concatenated."""
    return torch.cat([value.flatten() for value in state.values() if value.is_floating_point()])


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_training_lowers_the_loss_and_beats_chance(small_digits):
    trainer = make_trainer(small_digits, epochs=6, batch_size=32)
    before = score_split(trainer.model, small_digits.valid, small_digits.mean, small_digits.std)
    result = trainer.fit(6)
    losses = [stats.train_loss for stats in result.history]
    assert result.epochs == 6 and len(losses) == 6 and result.resumed_from == 0
    assert losses[-1] < 0.7 * losses[0]
    after = score_split(trainer.model, small_digits.valid, small_digits.mean, small_digits.std)
    assert after.loss < before.loss and after.accuracy > 40.0  # 10 classes: chance is 10%
    assert result.train_seconds == pytest.approx(sum(s.seconds for s in result.history))
    assert all(s.images == 320 for s in result.history)


def test_cosine_schedule_stepped_per_epoch_and_truncated(small_digits):
    trainer = make_trainer(small_digits, epochs=4, learning_rate=0.2)
    result = trainer.fit(2)  # the first 2 epochs of a 4-epoch schedule
    assert [s.learning_rate for s in result.history] == pytest.approx([0.2, 0.1 * (1 + np.cos(np.pi / 4))])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # epoch 2 of 4: half way down
    with pytest.raises(ValueError, match="0..4"):
        trainer.fit(5)


def test_same_seed_same_weights_other_seed_other_weights(small_digits):
    first, second, other = make_trainer(small_digits, 3), make_trainer(small_digits, 3), make_trainer(small_digits, 4)
    for trainer in (first, second, other):
        trainer.fit(1)
    assert_same_weights(weights(first), weights(second))
    assert first.history[0].train_loss == second.history[0].train_loss
    assert not torch.equal(weights(first)["classifier.weight"], weights(other)["classifier.weight"])


class Interrupt(Exception):
    pass


def test_interrupted_training_resumes_to_identical_weights(small_digits, tmp_path):
    uninterrupted = make_trainer(small_digits, seed=5)
    uninterrupted.fit(2)

    path = tmp_path / "ckpt" / "run.pt"

    def stop_after_first_epoch(stats):
        if stats.epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        make_trainer(small_digits, seed=5, checkpoint=path).fit(2, on_epoch_end=stop_after_first_epoch)
    saved = load_checkpoint(path)
    assert saved["epoch"] == 1 and saved["key"] == "k"
    assert sorted(saved) == ["epoch", "generator", "history", "key", "model", "optimizer", "scheduler",
                             "train_seconds"]

    resumed = make_trainer(small_digits, seed=5, checkpoint=path)
    result = resumed.fit(2)
    assert result.resumed_from == 1 and result.epochs == 2 and len(result.history) == 2
    assert_same_weights(weights(resumed), weights(uninterrupted))
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(uninterrupted.optimizer.param_groups[0]["lr"])
    assert [s.train_loss for s in result.history] == [s.train_loss for s in uninterrupted.history]
    assert load_checkpoint(path)["epoch"] == 2


def test_a_checkpoint_of_another_training_is_refused(small_digits, tmp_path):
    path = tmp_path / "run.pt"
    make_trainer(small_digits, checkpoint=path, key="first").fit(1)
    with pytest.raises(ValueError, match="belongs to another training"):
        make_trainer(small_digits, checkpoint=path, key="second").fit(2)


def test_recipe_validation_and_updates():
    recipe = TrainRecipe()
    assert (recipe.epochs, recipe.batch_size, recipe.learning_rate, recipe.weight_decay) == (200, 256, 0.1, 5e-4)
    assert recipe.nesterov and recipe.momentum == 0.9 and recipe.min_learning_rate == 0.0
    assert recipe.updated({"learning_rate": 0.05}).learning_rate == 0.05
    with pytest.raises(ValueError, match="unknown training recipe key"):
        recipe.updated({"lr": 0.05})
    with pytest.raises(ValueError, match="recipe.batch_size"):
        TrainRecipe(batch_size=0)


def test_a_longer_checkpoint_is_not_wound_back(small_digits, tmp_path):
    path = tmp_path / "run.pt"
    make_trainer(small_digits, checkpoint=path).fit(2)
    shorter = make_trainer(small_digits, checkpoint=path)
    result = shorter.fit(1)
    assert result.resumed_from == 0 and result.epochs == 1 and load_checkpoint(path)["epoch"] == 1


def test_compiled_training_matches_eager_and_its_checkpoint_resumes_eagerly(small_digits, tmp_path):
    """compile=True (torch.compile, mode reduce-overhead: CUDA graphs on a GPU, Inductor's C++ kernels here) trains
    the same network as eager mode, and its checkpoint holds the plain model's weights (no compile wrapper names)."""
    eager = make_trainer(small_digits, drop_last=True, arch=COMPILE_ARCH)  # one batch shape: one compiled graph
    eager_losses = [s.train_loss for s in eager.fit(2).history]
    path = tmp_path / "compiled.pt"
    recipe = TrainRecipe(epochs=4, batch_size=64, drop_last=True)
    model = seeded_network(COMPILE_ARCH, 0, C=4, N=1, num_classes=small_digits.num_classes)
    compiled = Trainer(model, small_digits, recipe, 0, compile=True, checkpoint=path, checkpoint_key="k")
    compiled_losses = [s.train_loss for s in compiled.fit(2).history]
    # Fused kernels round differently: the gap starts near float precision and grows with the SGD steps.
    assert compiled_losses[0] == pytest.approx(eager_losses[0], rel=1e-4)
    assert compiled_losses == pytest.approx(eager_losses, rel=5e-3)
    start = flat(weights(make_trainer(small_digits, arch=COMPILE_ARCH)))
    moved, gap = flat(weights(eager)) - start, flat(weights(compiled)) - flat(weights(eager))
    assert gap.norm() < 0.1 * moved.norm()  # small next to how far training moved the weights
    saved = load_checkpoint(path)
    assert saved["epoch"] == 2 and set(saved["model"]) == set(weights(eager))
    resumed = make_trainer(small_digits, checkpoint=path, drop_last=True, arch=COMPILE_ARCH)
    result = resumed.fit(3)
    assert result.resumed_from == 2 and result.epochs == 3
