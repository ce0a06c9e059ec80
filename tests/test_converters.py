"""Converters from the official NB201 formats: each test writes small files in the official layout itself.

Every file lists all 15,625 cells (the formats are indexed by cell), each with a tiny, distinct synthetic record of
E = 3 epochs: one seed on cifar10-valid for most cells, and all four datasets with 1 to 3 seeds for the cells in
DETAILED. The tests check that exact values land at the right (index, seed slot, epoch) and dataset, for every cell.
"""

from __future__ import annotations

import bz2
import io
import pickle
import sys
import tarfile
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from nas_exp.benchmarks.nb201_tabular import NB201_METRICS, NB201_RECIPE
from nas_exp.data import download as download_module
from nas_exp.data.converters import SOURCE_NAMES, convert_file, detect_format
from nas_exp.data.converters.naslib import convert_naslib
from nas_exp.data.converters.nats_bench import convert_nats_tss
from nas_exp.data.converters.nb201_pth import convert_nb201_pth
from nas_exp.data.download import OFFICIAL_SOURCES, download
from nas_exp.data.store import DatasetTable
from nas_exp.search_spaces.nb201 import N_CELLS, Arch

pytestmark = pytest.mark.xdist_group("test_converters")  # one pytest worker: its module fixtures are built once

E = 3
ARCHS = [Arch.from_index(i).to_str() for i in range(N_CELLS)]
DATASET_NO = {"cifar10-valid": 0, "cifar10": 1, "cifar100": 2, "ImageNet16-120": 3}
# The evaluation sets each dataset has in the official files (NB201 API get_metrics docstring).
OFFICIAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
SET_OFFSET = {"x-valid": 0.25, "x-test": 0.5, "ori-test": 0.75}
# the cells with all four datasets, 1 to 3 seeds and every metric; the others have one cifar10-valid curve
CHECK = [0, 1, 2, 5, 12_345, N_CELLS - 1]  # 3, 1, 2, 2, 3 and 3 seeds
DETAILED = frozenset(CHECK)


def base(i: int, dataset: str, seed: int, hp_shift: float = 0.0) -> float:
    return i / 1000 + DATASET_NO[dataset] * 20 + (seed - 777) / 111 * 3 + hp_shift


def epoch_time(i: int, seed: int) -> float:
    return 1.0 + (i % 7) / 4 + (seed - 777) / 111


def params_of(i: int, dataset: str) -> float:
    return 0.5 + i / 100_000 + DATASET_NO[dataset]


def latency_of(i: int, seed: int) -> float:
    return 0.01 + i / 1e6 + (seed - 777) / 1e5


def results_count(i: int, dataset: str, seed: int, hp_shift: float = 0.0) -> dict:
    """A ResultsCount state dict (the object's __dict__) as the NB201 / NATS-Bench files store it.

    Cells outside DETAILED get only a training curve, to keep the 15,625-cell files quick to write and read.
    """
    b = base(i, dataset, seed, hp_shift)
    if i not in DETAILED:  # (a list is also a valid per-epoch container)
        return {"epochs": E, "train_acc1es": [b + e for e in range(E)]}
    names = OFFICIAL_SETS[dataset]
    return {
        "name": f"{dataset}-{seed}", "net_state_dict": None, "seed": seed, "epochs": E,
        "train_acc1es": {e: b + e for e in range(E)}, "train_acc5es": None,
        "train_losses": {e: b / 10 + e for e in range(E)},
        "train_times": {e: epoch_time(i, seed) for e in range(E)},
        "arch_config": {"arch_str": ARCHS[i], "channel": 16, "num_cells": 5},
        "params": params_of(i, dataset), "flop": 2 * params_of(i, dataset), "latency": [latency_of(i, seed)],
        "eval_names": list(names),
        "eval_acc1es": {f"{n}@{e}": b + SET_OFFSET[n] + e for n in names for e in range(E)},
        "eval_losses": {f"{n}@{e}": b / 10 + SET_OFFSET[n] + e for n in names for e in range(E)},
        "eval_times": {f"{n}@{e}": 0.1 for n in names for e in range(E)},
    }


def datasets_of(i: int) -> tuple[str, ...]:
    return tuple(DATASET_NO) if i in DETAILED else ("cifar10-valid",)


def seeds_of(i: int) -> tuple[int, ...]:
    """Detailed cells have 3, 1 or 2 seeds (the 2-seed ones lack 777, so their slot 0 is seed 888); others 1."""
    if i not in DETAILED:
        return (777,)
    return {0: (777, 888, 999), 1: (777,), 2: (888, 999)}[i % 3]


def arch_results(i: int, datasets: tuple[str, ...] | None = None, hp_shift: float = 0.0) -> dict:
    """An ArchResults state dict."""
    datasets = datasets_of(i) if datasets is None else datasets
    if i not in DETAILED:
        return {"arch_str": ARCHS[i], "all_results": {(d, 777): results_count(i, d, 777, hp_shift) for d in datasets}}
    return {
        "arch_index": i, "arch_str": ARCHS[i], "clear_net_done": True,
        "dataset_seed": {d: list(seeds_of(i)) for d in datasets},
        "all_results": {(d, s): results_count(i, d, s, hp_shift) for d in datasets for s in seeds_of(i)},
    }


def other_hp(i: int) -> dict:
    """The results of the other schedule ('less' / hp '12'), shifted by 1000 so that reading them would show."""
    return arch_results(i, ("cifar10-valid",), hp_shift=1000.0) if i in DETAILED else arch_results(i, ())


def check_every_cell(t: DatasetTable) -> None:
    """Slot 0, epoch 1 of every cell holds that cell's own value."""
    expected = np.array([base(i, t.dataset, seeds_of(i)[0]) for i in range(N_CELLS)])
    np.testing.assert_allclose(t.run_metrics["train_acc"][:, 0, 0], expected, rtol=1e-6)


def table(tables: list[DatasetTable], dataset: str) -> DatasetTable:
    (found,) = [t for t in tables if t.dataset == dataset]
    return found


def check_run_values(t: DatasetTable, indexes: list[int], sets: tuple[str | None, str]) -> None:
    """Exact values at (index, slot, epoch) of an NB201-style table; ``sets`` = (valid set, test set)."""
    valid_set, test_set = sets
    for i in indexes:
        seeds = seeds_of(i)
        for slot in range(3):
            if slot >= len(seeds):
                assert np.isnan(t.run_metrics["train_acc"][i, slot]).all()
                continue
            seed = seeds[slot]
            b = base(i, t.dataset, seed)
            epochs = np.arange(E)
            np.testing.assert_allclose(t.run_metrics["train_acc"][i, slot], b + epochs, rtol=1e-6)
            np.testing.assert_allclose(t.run_metrics["train_loss"][i, slot], b / 10 + epochs, rtol=1e-6)
            np.testing.assert_allclose(t.run_metrics["train_time"][i, slot], epoch_time(i, seed) * (epochs + 1),
                                       rtol=1e-6)
            np.testing.assert_allclose(t.run_metrics["test_acc"][i, slot], b + SET_OFFSET[test_set] + epochs,
                                       rtol=1e-6)
            np.testing.assert_allclose(t.run_metrics["test_loss"][i, slot], b / 10 + SET_OFFSET[test_set] + epochs,
                                       rtol=1e-6)
            if valid_set is not None:
                np.testing.assert_allclose(t.run_metrics["valid_acc"][i, slot],
                                           b + SET_OFFSET[valid_set] + epochs, rtol=1e-6)
        assert t.config_metrics["params"][i] == pytest.approx(params_of(i, t.dataset))
        assert t.config_metrics["flops"][i] == pytest.approx(2 * params_of(i, t.dataset))
        assert t.config_metrics["latency"][i] == pytest.approx(np.mean([latency_of(i, s) for s in seeds]))


EXPECTED_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": (None, "ori-test"),
    "cifar100": ("x-valid", "x-test"),
    "ImageNet16-120": ("x-valid", "x-test"),
}


# -- NAS-Bench-201 .pth ------------------------------------------------------------------------------------------
def _pickle_save(obj: object, path: Path) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=4)


def _pickle_load(path: Path, map_location: object = None, weights_only: object = None) -> object:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def torch_like() -> types.ModuleType:
    """PyTorch when installed (it is optional for the project); else a stand-in whose save / load pickle."""
    try:
        import torch
    except ModuleNotFoundError:
        stand_in = types.ModuleType("torch")
        stand_in.save, stand_in.load = _pickle_save, _pickle_load  # type: ignore[attr-defined]
        stand_in.Tensor = type("Tensor", (), {})  # type: ignore[attr-defined]  # some libraries look for it
        return stand_in
    return torch


@pytest.fixture
def torch_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """What ``import torch`` gives the converter during a test: PyTorch, or the pickling stand-in."""
    module = torch_like()
    monkeypatch.setitem(sys.modules, "torch", module)
    return module


@pytest.fixture(scope="module")
def nb201_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = torch_like()
    # 'less' (12 epochs) carries other values: the converter must read 'full'
    arch2infos = {i: {"less": other_hp(i), "full": arch_results(i)} for i in range(N_CELLS)}
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": ARCHS, "arch2infos": arch2infos, "evaluated_indexes": list(range(N_CELLS))}, path)
    return path


def test_nb201_pth_values_land_at_index_seed_epoch(nb201_pth: Path, torch_module: types.ModuleType) -> None:
    tables = convert_nb201_pth(nb201_pth)
    assert [t.dataset for t in tables] == list(DATASET_NO)
    for t in tables:
        t.validate(NB201_RECIPE)
        assert list(t.epochs) == [1, 2, 3] and t.total_epochs == E and t.n_seeds == 3
        check_run_values(t, CHECK, EXPECTED_SETS[t.dataset])
    check_every_cell(table(tables, "cifar10-valid"))
    assert np.isnan(table(tables, "cifar100").run_metrics["train_acc"][3]).all()  # a cell without cifar100 runs
    assert "valid_acc" not in table(tables, "cifar10").run_metrics  # cifar10 trains on train+valid
    assert "valid_acc" in table(tables, "cifar100").run_metrics


def test_nb201_pth_agrees_with_the_official_api(nb201_pth: Path, torch_module: types.ModuleType) -> None:
    """The NATS-Bench API (same ArchResults layout) queried on the same records gives the converted values."""
    nats_bench = pytest.importorskip("nats_bench")
    tables = {t.dataset: t for t in convert_nb201_pth(nb201_pth)}
    api = nats_bench.create({"meta_archs": ARCHS, "arch2infos": {i: {"200": arch_results(i)} for i in DETAILED},
                             "evaluated_indexes": sorted(DETAILED)}, "tss", fast_mode=False, verbose=False)
    names = {"train_acc": "train-accuracy", "train_loss": "train-loss", "train_time": "train-all-time",
             "valid_acc": "valid-accuracy", "valid_loss": "valid-loss", "test_acc": "test-accuracy",
             "test_loss": "test-loss"}
    for i in sorted(DETAILED):
        for dataset, t in tables.items():
            for slot, seed in enumerate(seeds_of(i)):
                for e in range(E):
                    info = api.get_more_info(i, dataset, iepoch=e, hp="200", is_random=seed)
                    for ours, theirs in names.items():
                        if ours in t.run_metrics:
                            assert t.run_metrics[ours][i, slot, e] == pytest.approx(info[theirs], rel=1e-6)
                        else:
                            assert theirs not in info
            costs = api.get_cost_info(i, dataset, hp="200")
            for ours, theirs in (("params", "params"), ("flops", "flops"), ("latency", "latency")):
                assert t.config_metrics[ours][i] == pytest.approx(costs[theirs])


def test_nb201_pth_meta_archs_out_of_order(tmp_path: Path, torch_module: types.ModuleType) -> None:
    swapped = list(ARCHS)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    path = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    torch_module.save({"meta_archs": swapped, "arch2infos": {}, "evaluated_indexes": []}, path)
    with pytest.raises(ValueError, match=r"NAS-Bench-201-v1_0-e61699\.pth: meta_archs\[0\] .* index is 1, not 0"):
        convert_nb201_pth(path)


def test_nb201_pth_results_for_another_arch(tmp_path: Path, torch_module: types.ModuleType) -> None:
    path = tmp_path / "bad.pth"
    full = arch_results(1, ("cifar10",))
    torch_module.save({"meta_archs": ARCHS, "arch2infos": {0: {"less": {}, "full": full}}, "evaluated_indexes": [0]},
                      path)
    with pytest.raises(ValueError, match=r"bad\.pth: arch 0: results are for"):
        convert_nb201_pth(path)


def test_nb201_pth_without_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"096897\.pth: reading a \.pth file needs PyTorch"):
        convert_nb201_pth(path)


# -- NATS-Bench topology --------------------------------------------------------------------------------------
def write_pbz2(obj: object, path: Path) -> None:
    path.write_bytes(bz2.compress(pickle.dumps(obj, protocol=4), 1))


@pytest.fixture(scope="module")
def nats_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NATS-tss-v1_0-3ffb9-simple archive: meta.pickle.pbz2 + one {index:06d}.pickle.pbz2 per cell."""
    directory = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    directory.mkdir()
    write_pbz2({"meta_archs": ARCHS, "arch2infos": {}, "evaluated_indexes": []}, directory / "meta.pickle.pbz2")

    for i in range(N_CELLS):
        # hp "12" carries other values (shifted by 1000): the converter must read "200"
        infos = {"12": other_hp(i), "200": arch_results(i)} if i in DETAILED else {"200": arch_results(i)}
        # real archives name files 000123.pickle.pbz2; the API also accepts 123.pickle.pbz2
        name = f"{i:06d}.pickle.pbz2" if i % 2 else f"{i}.pickle.pbz2"
        write_pbz2(infos, directory / name)
    return directory


def check_nats_tables(tables: list[DatasetTable]) -> None:
    assert [t.dataset for t in tables] == list(DATASET_NO)
    for t in tables:
        t.validate(NB201_RECIPE)
        assert list(t.epochs) == [1, 2, 3] and t.n_seeds == 3
        check_run_values(t, CHECK, EXPECTED_SETS[t.dataset])
    check_every_cell(table(tables, "cifar10-valid"))


@pytest.fixture(scope="module")
def nats_direct_tables(nats_dir: Path) -> list[DatasetTable]:
    return convert_nats_tss(nats_dir, use_package=False)


def test_nats_tss_archive_read_directly(nats_direct_tables: list[DatasetTable]) -> None:
    check_nats_tables(nats_direct_tables)


def test_nats_tss_archive_read_with_nats_bench(nats_dir: Path, nats_direct_tables: list[DatasetTable]) -> None:
    pytest.importorskip("nats_bench")
    package_tables = convert_nats_tss(nats_dir, use_package=True)
    check_nats_tables(package_tables)
    for a, b in zip(package_tables, nats_direct_tables, strict=True):
        assert a.run_metrics.keys() == b.run_metrics.keys() and a.config_metrics.keys() == b.config_metrics.keys()
        for name in a.run_metrics:
            np.testing.assert_array_equal(a.run_metrics[name], b.run_metrics[name])


def test_nats_tss_missing_arch_file(tmp_path: Path) -> None:
    directory = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    directory.mkdir()
    write_pbz2({"meta_archs": ARCHS}, directory / "meta.pickle.pbz2")
    write_pbz2({"200": arch_results(0, ("cifar10",))}, directory / "000000.pickle.pbz2")
    with pytest.raises(ValueError, match=r"no file for arch 1 \(000001\.pickle\.pbz2"):
        convert_nats_tss(directory, use_package=False)


def test_nats_tss_benchmark_file(tmp_path: Path) -> None:
    # the single-file form; here only the DETAILED cells are in arch2infos (the others come out NaN)
    arch2infos = {i: {"12": other_hp(i), "200": arch_results(i)} for i in sorted(DETAILED)}
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    write_pbz2({"meta_archs": ARCHS, "arch2infos": arch2infos, "evaluated_indexes": sorted(DETAILED)}, path)
    assert detect_format(path) == "nats-tss"
    tables = convert_nats_tss(path)
    assert [t.dataset for t in tables] == list(DATASET_NO)
    for t in tables:
        check_run_values(t, CHECK, EXPECTED_SETS[t.dataset])
        assert np.isnan(t.run_metrics["train_acc"][3]).all()


# -- NASLib ----------------------------------------------------------------------------------------------------
NASLIB_FILES = {"nb201_cifar10_full_training.pickle": "cifar10-valid",
                "nb201_cifar100_full_training.pickle": "cifar100",
                "nb201_ImageNet16_full_training.pickle": "ImageNet16-120"}


def naslib_record(i: int, dataset: str) -> dict:
    b = base(i, dataset, 777)
    return {"train_acc1es": [b + e for e in range(E)], "train_losses": [b / 10 + e for e in range(E)],
            "eval_acc1es": [b + 0.25 + e for e in range(E)], "eval_losses": [b / 10 + 0.25 + e for e in range(E)],
            "cost_info": {"flops": 2 * params_of(i, dataset), "params": params_of(i, dataset),
                          "latency": latency_of(i, 777), "train_time": epoch_time(i, 777)}}


def write_naslib(directory: Path, cells: dict[str, list[int]]) -> Path:
    """NASLib pickles {arch string: {dataset: record}}; ``cells``: file name -> the cells it holds."""
    for name, indexes in cells.items():
        dataset = NASLIB_FILES[name]
        data = {ARCHS[i]: {dataset: naslib_record(i, dataset)} for i in indexes}
        with open(directory / name, "wb") as handle:
            pickle.dump(data, handle, protocol=4)
    return directory


@pytest.fixture(scope="module")
def naslib_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the cifar10 file holds every cell, written in reverse order to test the index mapping; the others DETAILED
    cells = {name: sorted(DETAILED) for name in NASLIB_FILES}
    cells["nb201_cifar10_full_training.pickle"] = list(reversed(range(N_CELLS)))
    return write_naslib(tmp_path_factory.mktemp("naslib"), cells)


@pytest.fixture
def small_naslib_dir(tmp_path: Path) -> Path:
    return write_naslib(tmp_path, {name: [0, 1, 2] for name in NASLIB_FILES})


def test_naslib_values(naslib_dir: Path) -> None:
    tables = convert_naslib(sorted(naslib_dir.iterdir()))
    assert sorted(t.dataset for t in tables) == sorted(NASLIB_FILES.values())
    for t in tables:
        t.validate(NB201_RECIPE)
        assert t.n_seeds == 1 and list(t.epochs) == [1, 2, 3]
        for i in CHECK:
            b = base(i, t.dataset, 777)
            epochs = np.arange(E)
            np.testing.assert_allclose(t.run_metrics["train_acc"][i, 0], b + epochs, rtol=1e-6)
            np.testing.assert_allclose(t.run_metrics["valid_acc"][i, 0], b + 0.25 + epochs, rtol=1e-6)
            # NASLib answers VAL and TEST from the same eval curve
            np.testing.assert_array_equal(t.run_metrics["test_acc"][i, 0], t.run_metrics["valid_acc"][i, 0])
            np.testing.assert_allclose(t.run_metrics["train_time"][i, 0], epoch_time(i, 777) * (epochs + 1),
                                       rtol=1e-6)
            assert t.config_metrics["params"][i] == pytest.approx(params_of(i, t.dataset))
            assert t.config_metrics["latency"][i] == pytest.approx(latency_of(i, 777))
    every = table(tables, "cifar10-valid").run_metrics["train_acc"][:, 0, 0]
    np.testing.assert_allclose(every, [base(i, "cifar10-valid", 777) for i in range(N_CELLS)], rtol=1e-6)
    assert np.isnan(table(tables, "cifar100").run_metrics["train_acc"][3]).all()


def test_naslib_same_dataset_twice(small_naslib_dir: Path) -> None:
    path = small_naslib_dir / "nb201_cifar10_full_training.pickle"
    with pytest.raises(ValueError, match="already read from"):
        convert_naslib([path, path])


# -- detection, dispatch, download -----------------------------------------------------------------------------
def test_detect_format_and_convert_file(tmp_path: Path, nats_dir: Path, small_naslib_dir: Path) -> None:
    (tmp_path / "NAS-Bench-201-v1_1-096897.pth").write_bytes(b"")
    assert detect_format(tmp_path / "NAS-Bench-201-v1_1-096897.pth") == "nb201-pth"
    assert detect_format(nats_dir) == "nats-tss"
    assert detect_format(small_naslib_dir) == "naslib"
    assert detect_format(small_naslib_dir / "nb201_cifar100_full_training.pickle") == "naslib"
    # one NASLib file brings its official siblings along
    source, tables = convert_file(small_naslib_dir / "nb201_cifar100_full_training.pickle")
    assert source == "naslib" and sorted(t.dataset for t in tables) == sorted(NASLIB_FILES.values())
    assert set(SOURCE_NAMES) == {"nb201-pth", "nats-tss", "naslib", "nb201-hp12"} == set(OFFICIAL_SOURCES)


def test_detect_format_rejects_unknown(tmp_path: Path) -> None:
    unknown = tmp_path / "results.csv"
    unknown.write_text("a,b\n")
    with pytest.raises(ValueError, match=r"results\.csv: unknown format"):
        detect_format(unknown)
    with pytest.raises(ValueError, match="does not exist"):
        convert_file(tmp_path / "missing.pth")
    (tmp_path / "x.tar").write_bytes(b"")
    with pytest.raises(ValueError, match="extract it first"):
        detect_format(tmp_path / "x.tar")
    with pytest.raises(ValueError, match="neither meta.pickle.pbz2"):
        detect_format(tmp_path)


def test_download_fails_fast_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []

    def unreachable(request: urllib.request.Request, timeout: float) -> None:
        calls.append(timeout)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    started = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        download("nats-tss", tmp_path)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"could not reach {OFFICIAL_SOURCES['nats-tss'].files[0].url}")
    assert "python -m nas_exp.data convert" in message and "NATS-tss-v1_0-3ffb9-simple.tar" in message
    assert calls == [download_module.TIMEOUT_S] and 0 < calls[0] <= 15
    assert not list(tmp_path.iterdir())  # no partial file left behind
    with pytest.raises(ValueError, match="unknown NB201 source"):
        download("nb101", tmp_path)


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, content_type: str) -> None:
        super().__init__(payload)
        self.headers = {"Content-Type": content_type}


def test_download_streams_and_extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        payload = b"meta"
        member = tarfile.TarInfo("NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda request, timeout: FakeResponse(archive.getvalue(), "application/x-tar"))
    target = download("nats-tss", tmp_path)
    assert target == tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    assert (target / "meta.pickle.pbz2").read_bytes() == b"meta"
    assert (tmp_path / "NATS-tss-v1_0-3ffb9-simple.tar").is_file()


def test_download_rejects_a_web_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda request, timeout: FakeResponse(b"<html>quota</html>", "text/html; charset=utf-8"))
    with pytest.raises(RuntimeError, match="answered with a web page.*python -m nas_exp.data convert"):
        download("nb201-pth", tmp_path)
    assert not list(tmp_path.iterdir())
