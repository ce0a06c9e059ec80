"""Train mode, the data: readers of the official CIFAR / ImageNet16 pickles (on small fake files in the real format),
NB201's split files and their seeded fallback, the missing-data error, digits, and the on-device augmentation."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="train mode needs the train extra: pip install -e '.[train]'")

from nas_exp.datasets import DATASET_NAMES, load_dataset, resolve_image_root  # noqa: E402
from nas_exp.datasets.cifar import CIFAR10_TRAIN  # noqa: E402
from nas_exp.datasets.imagenet16 import IMAGENET16_TRAIN  # noqa: E402
from nas_exp.datasets.splits import read_split_file, seeded_halves  # noqa: E402
from nas_exp.training.augment import normalize, random_crop_flip  # noqa: E402


def write_batch(path: Path, data: np.ndarray, labels_key: str, labels: list[int], extra: dict | None = None) -> None:
    """A batch file as the official CIFAR pickles load in Python 3 (byte-string keys, numpy uint8 data)."""
    entry = {b"data": data, labels_key.encode(): labels, b"batch_label": b"fake", **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def fake_cifar10(root: Path, per_batch: int = 8, seed: int = 0) -> Path:
    """data_batch_1..5 + test_batch with ``per_batch`` images each; image i of batch b has pixel (5, 7) of its red
    plane = 10 * b + i (to check the reshape) and label (b + i) % 10."""
    rng = np.random.default_rng(seed)
    for b, name in enumerate(CIFAR10_TRAIN + ("test_batch",)):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        data[:, 0 * 1024 + 5 * 32 + 7] = 10 * b + np.arange(per_batch)
        write_batch(root / "cifar-10-batches-py" / name, data, "labels", [(b + i) % 10 for i in range(per_batch)])
    return root


def fake_cifar100(root: Path, n_train: int = 12, n_test: int = 10) -> Path:
    rng = np.random.default_rng(1)
    for name, n in (("train", n_train), ("test", n_test)):
        write_batch(root / "cifar-100-python" / name, rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                    "fine_labels", [int(v) for v in rng.integers(0, 100, size=n)],
                    {b"coarse_labels": [0] * n})
    return root


def fake_imagenet16(root: Path) -> Path:
    """Each batch: 4 images with 1-based labels 1, 120, 121, 1000 (the last two are not in ImageNet16-120)."""
    rng = np.random.default_rng(2)
    for name in IMAGENET16_TRAIN + ("val_data",):
        entry = {"data": rng.integers(0, 256, size=(4, 768), dtype=np.uint8), "labels": [1, 120, 121, 1000],
                 "mean": np.zeros(768)}
        (root / "ImageNet16").mkdir(parents=True, exist_ok=True)
        with open(root / "ImageNet16" / name, "wb") as handle:
            pickle.dump(entry, handle, protocol=2)
    return root


def test_cifar10_valid_reader_and_seeded_split(tmp_path):
    data = load_dataset("cifar10-valid", fake_cifar10(tmp_path))
    assert data.num_classes == 10 and data.image_shape == (3, 32, 32)
    assert len(data.train) == len(data.valid) == 20 and len(data.test) == 8  # 5 x 8 train images split in halves
    assert data.train.images.dtype == np.uint8 and data.train.labels.dtype == np.int64
    assert "seeded 20/20 split (cifar-split.txt not found" in data.note
    # the reshape keeps CIFAR's planar layout: red plane first, row-major
    marks = np.concatenate([data.train.images[:, 0, 5, 7], data.valid.images[:, 0, 5, 7]])
    assert sorted(marks.tolist()) == [10 * b + i for b in range(5) for i in range(8)]
    np.testing.assert_array_equal(data.test.images[:, 0, 5, 7], 50 + np.arange(8))
    np.testing.assert_array_equal(data.test.labels, [(5 + i) % 10 for i in range(8)])
    assert data.crop_padding == 4 and data.flip
    full = load_dataset("cifar10", tmp_path)
    assert len(full.train) == 40 and full.valid is None and full.note == ""


def test_nb201_split_file_is_used_when_present(tmp_path):
    fake_cifar10(tmp_path)
    train = [str(i) for i in range(0, 40, 2)]
    valid = [str(i) for i in range(1, 40, 2)]
    (tmp_path / "cifar-split.txt").write_text(json.dumps({"train": ["int", train], "valid": ["int", valid]}))
    data = load_dataset("cifar10-valid", tmp_path)
    assert data.note == ""
    # even positions of the 40 training images: batch b = i // 8, image i % 8
    expected = [10 * (i // 8) + i % 8 for i in range(0, 40, 2)]
    np.testing.assert_array_equal(data.train.images[:, 0, 5, 7], expected)


def test_split_file_checks(tmp_path):
    path = tmp_path / "split.txt"
    path.write_text(json.dumps({"xvalid": ["int", ["0", "1"]], "xtest": [1, 2]}))
    with pytest.raises(ValueError, match="overlap"):
        read_split_file(path, ("xvalid", "xtest"), 4)
    path.write_text(json.dumps({"xvalid": ["int", ["0", "9"]], "xtest": [1]}))
    with pytest.raises(ValueError, match=r"0\.\.3"):
        read_split_file(path, ("xvalid", "xtest"), 4)
    first, second = seeded_halves(7)
    assert len(first) == 4 and len(second) == 3 and sorted(np.concatenate([first, second])) == list(range(7))
    assert np.array_equal(seeded_halves(7)[0], first)  # fixed, not drawn per run


def test_cifar100_valid_and_test_are_halves_of_the_test_set(tmp_path):
    data = load_dataset("cifar100", fake_cifar100(tmp_path))
    assert data.num_classes == 100 and len(data.train) == 12
    assert len(data.valid) == len(data.test) == 5 and "cifar100-test-split.txt not found" in data.note
    assert data.train.labels.max() < 100


def test_imagenet16_120_keeps_120_classes_with_0_based_labels(tmp_path):
    data = load_dataset("ImageNet16-120", fake_imagenet16(tmp_path))
    assert data.image_shape == (3, 16, 16) and data.num_classes == 120 and data.crop_padding == 2
    assert len(data.train) == 20  # 10 batches x the 2 images of classes 1 and 120
    assert sorted(set(data.train.labels.tolist())) == [0, 119]
    assert len(data.valid) + len(data.test) == 2


@pytest.mark.parametrize("name, folder, url", [
    ("cifar10-valid", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python", "cifar-100-python.tar.gz"),
    ("ImageNet16-120", "ImageNet16", "Downsampled ImageNet"),
])
def test_missing_dataset_is_one_clear_line(tmp_path, name, folder, url):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, tmp_path / "nowhere")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{name} images not found")
    assert str(tmp_path / "nowhere" / folder) in message and url in message
    assert "evaluation.data_root" in message and "NAS_EXP_IMAGES" in message


def test_incomplete_dataset_names_the_missing_files(tmp_path):
    fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=r"incomplete \(missing data_batch_3\)"):
        load_dataset("cifar10", tmp_path)


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid: " + ", ".join(DATASET_NAMES)):
        load_dataset("mnist")


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_EXP_IMAGES", str(tmp_path))
    assert resolve_image_root(None) == tmp_path and resolve_image_root("/x") == Path("/x")
    monkeypatch.delenv("NAS_EXP_IMAGES")
    monkeypatch.chdir(tmp_path)
    assert resolve_image_root(None) == tmp_path / "data" / "images"


def test_digits_dataset():
    data = load_dataset("digits")
    assert data.image_shape == (3, 8, 8) and data.num_classes == 10 and not data.flip
    assert (len(data.train), len(data.valid), len(data.test)) == (1078, 359, 360)
    assert data.train.images.max() == 255 and set(np.unique(data.test.labels)) == set(range(10))
    assert np.array_equal(load_dataset("digits").valid.labels, data.valid.labels)  # fixed split


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_crop_is_a_window_of_the_zero_padded_image():
    images = torch.arange(4 * 2 * 5 * 6, dtype=torch.int32).view(4, 2, 5, 6) + 1  # unique non-zero values
    out = random_crop_flip(images, padding=2, flip=False, generator=_generator(0))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    assert out.shape == images.shape and out.dtype == images.dtype
    for k in range(4):
        windows = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(out[k], padded[k, :, dy:dy + 5, dx:dx + 6])]
        assert len(windows) == 1
    assert torch.equal(out, random_crop_flip(images, 2, False, _generator(0)))  # the generator decides


def test_flip_mirrors_some_images_and_keeps_the_others():
    images = torch.randint(0, 256, (64, 3, 4, 4), dtype=torch.uint8)
    out = random_crop_flip(images, padding=0, flip=True, generator=_generator(1))
    same = [torch.equal(out[k], images[k]) for k in range(64)]
    mirrored = [torch.equal(out[k], images[k].flip(-1)) for k in range(64)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 10 < sum(mirrored) < 54
    assert random_crop_flip(images, 0, False, _generator(1)) is images


def test_normalize_uses_pixel_unit_statistics():
    images = torch.full((1, 3, 2, 2), 100, dtype=torch.uint8)
    mean, std = torch.tensor([100.0, 50.0, 0.0]).view(1, 3, 1, 1), torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1)
    out = normalize(images, mean, std)
    assert out.dtype == torch.float32
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, 5.0, 1.0]))
