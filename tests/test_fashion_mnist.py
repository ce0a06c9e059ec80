"""dataset=fashion-mnist: the IDX reader and its checks on files written here, the fixed split and the real data
from Debian's dataset-fashion-mnist package (CI installs it), where it is looked for, the download command's
failure, and a real train-mode run on it."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from nas_exp.datasets import fashion_mnist, registry
from nas_exp.datasets.__main__ import main as datasets_main
from nas_exp.errors import UserError

HAS_DEBIAN = fashion_mnist.find_folder(Path("/nonexistent")) == fashion_mnist.DEBIAN_FOLDER
needs_debian = pytest.mark.skipif(not HAS_DEBIAN, reason=f"Debian's dataset-fashion-mnist is not installed "
                                  f"({fashion_mnist.DEBIAN_FOLDER} lacks its files): apt-get install dataset-fashion-mnist")


def write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fake_folder(root: Path, n_train: int = fashion_mnist.N_TRAIN, n_test: int = fashion_mnist.N_TEST) -> Path:
    """The four files in the official format, with seeded content (full counts: the reader checks them)."""
    folder = root / fashion_mnist.FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for images, labels, n in ((fashion_mnist.TRAIN_IMAGES, fashion_mnist.TRAIN_LABELS, n_train),
                              (fashion_mnist.TEST_IMAGES, fashion_mnist.TEST_LABELS, n_test)):
        write_idx(folder / images, 2051, rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / labels, 2049, rng.integers(0, 10, size=n))
    return folder


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """As on a machine without the Debian package."""
    absent = tmp_path / "no-debian"
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", absent)
    monkeypatch.setitem(registry.RAW_FILES, "fashion-mnist",
                        dataclasses.replace(registry.FASHION_MNIST_FILES, fallback=absent))


def test_reader_split_and_data_root_first(tmp_path):
    folder = fake_folder(tmp_path)
    data = registry.load_dataset("fashion-mnist", tmp_path)
    assert fashion_mnist.find_folder(tmp_path) == folder  # the data root wins over Debian's copy
    assert (len(data.train), len(data.valid), len(data.test)) == (50_000, 10_000, 10_000)
    assert data.image_shape == (1, 28, 28) and data.num_classes == 10 and data.flip and data.crop_padding == 2
    train, _ = fashion_mnist.read_fashion_mnist(folder)
    # train and valid partition the official training set; the split is fixed
    rows = np.concatenate([data.train.images, data.valid.images]).reshape(60_000, -1)
    assert len(np.unique(rows, axis=0)) == len(np.unique(train.images.reshape(60_000, -1), axis=0))
    again = registry.load_dataset("fashion-mnist", tmp_path)
    assert np.array_equal(again.valid.images, data.valid.images) and np.array_equal(again.valid.labels,
                                                                                     data.valid.labels)
    assert data.mean[0] == pytest.approx(data.train.images.mean())


@pytest.mark.parametrize("damage, message", [
    ("magic", r"has IDX header \[2049, 60000, 28, 28\], expected \[2051, 60000, 28, 28\]"),
    ("count", r"has IDX header \[2051, 59999, 28, 28\], expected \[2051, 60000, 28, 28\]"),
    ("truncated", r"holds 783 bytes of data, expected 47040000: the file is truncated"),
    ("not gzip", r"is not a readable gzip file"),
])
def test_damaged_files_are_one_line(tmp_path, damage, message):
    folder = fake_folder(tmp_path)
    path = folder / fashion_mnist.TRAIN_IMAGES
    if damage == "magic":
        write_idx(path, 2049, np.zeros((60_000, 28, 28)))
    elif damage == "count":
        write_idx(path, 2051, np.zeros((59_999, 28, 28)))
    elif damage == "truncated":
        with gzip.open(path, "wb") as handle:
            handle.write(np.array([2051, 60_000, 28, 28], dtype=">u4").tobytes() + bytes(783))
    else:
        path.write_bytes(b"not a gzip file")
    with pytest.raises(UserError, match=message) as err:
        registry.load_dataset("fashion-mnist", tmp_path)
    assert "\n" not in str(err.value)


def test_missing_files_say_how_to_get_them(tmp_path, no_debian):
    with pytest.raises(FileNotFoundError) as err:
        registry.load_dataset("fashion-mnist", tmp_path)
    text = str(err.value)
    assert "\n" not in text and str(tmp_path / "fashion-mnist") in text
    assert "python -m nas_exp.datasets download fashion-mnist" in text and "apt-get install dataset-fashion-mnist" in text


def test_download_failure_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fashion_mnist, "DOWNLOAD_URL", "http://127.0.0.1:9")  # the discard port: refused at once
    root = tmp_path / "new" / "images"
    assert datasets_main(["--root", str(root), "download", "fashion-mnist", "--timeout", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: could not reach http://127.0.0.1:9/train-images-idx3-ubyte.gz") and "\n" not in err
    assert f"put it in {root / 'fashion-mnist'}" in err
    assert not (tmp_path / "new").exists()


def test_download_keeps_files_already_there_and_checks_them(tmp_path, monkeypatch, capsys):
    fake_folder(tmp_path)
    monkeypatch.setattr(fashion_mnist, "DOWNLOAD_URL", "http://127.0.0.1:9")  # never contacted: all files exist
    assert datasets_main(["--root", str(tmp_path), "download", "fashion-mnist"]) == 0
    assert capsys.readouterr().out.strip() == f"fashion-mnist: {tmp_path / 'fashion-mnist'}"


@needs_debian
def test_debian_package_data(tmp_path):
    data = registry.load_dataset("fashion-mnist", tmp_path)  # tmp_path has no copy: Debian's is read
    assert (len(data.train), len(data.valid), len(data.test)) == (50_000, 10_000, 10_000)
    assert sorted(np.bincount(data.test.labels).tolist()) == [1000] * 10  # the official test set is balanced
    assert sorted(np.bincount(np.concatenate([data.train.labels, data.valid.labels])).tolist()) == [6000] * 10
    assert 60 < data.mean[0] < 80  # Fashion-MNIST's mean pixel is about 72.9 of 255


@needs_debian
def test_train_mode_on_fashion_mnist(tmp_path, monkeypatch):
    """A real training on the real images: 1 epoch of a C=4, N=1 net (1-channel stem), valid and test measured."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    done = run_cli(["evaluation=train", "dataset=fashion-mnist", "optimizer=random", "budget.max_evaluations=1",
                    "evaluation.epochs=1", "evaluation.C=4", "evaluation.N=1", "evaluation.recipe.batch_size=512"],
                   tmp_path, tmp_path / "store")
    assert done.returncode == 0, done.stderr
    (run_dir,) = [p.parent for p in tmp_path.glob("outputs/runs/*/*/trajectory.csv")]
    with open(run_dir / "trajectory.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert 10 < float(row["valid_acc"]) <= 100 and 10 < float(row["test_acc"]) <= 100  # above chance (10%)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["config"]["dataset"]["name"] == "fashion-mnist"
