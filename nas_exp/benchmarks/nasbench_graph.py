"""Tabular NAS-Bench-Graph (Qin et al. 2022, "NAS-Bench-Graph: Benchmarking Graph Neural Architecture Search"):
the recipe and its converter from the light files the PyPI package nas-bench-graph 1.4.0 ships
(``nas_bench_graph/light/<dataset>.bench``: a pickled dict canonical hash -> valid_perf, perf (test), latency,
para).

Rows: the 26,206 canonical architectures, in ascending hash order (``nasbench_graph.canonical_hashes``). Eight
datasets hold all of them. proteins was evaluated with 5 of the 9 ops only: its 2,021 architectures are a subset of
the same rows (its file uses the same 9-op hashes), and the other rows are NaN on proteins. One recipe therefore
serves all nine datasets; the proteins space (``NasBenchGraphSpace(dataset="proteins")``) only reaches its 2,021.

Each light value is one number per architecture (the benchmark's summary over its 3 seeds); it is stored as one
run. The training schedules differ per dataset and are not in the light files, so the single stored fidelity is a
placeholder, epoch 1 of 1: "the final result". No training time is recorded: the cost metric is None.
"""

from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path

import numpy as np

from nas_exp.errors import UserError
from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.data.store import DatasetTable
from nas_exp.search_spaces.nasbench_graph import DATASETS, canonical_hashes

N_CONFIGS = 26_206
N_PROTEINS = 2_021
SOURCE = "nas-bench-graph"
FINAL = 1  # the one stored fidelity: the final result (not an epoch count)

NASBENCH_GRAPH_METRICS: dict[str, Metric] = {
    "valid_acc": Metric.percent("valid_acc"),  # ROC-AUC on proteins (see docs/benchmarks.md)
    "test_acc": Metric.percent("test_acc"),
    "latency": Metric("latency", "min", "s"),
    "params": Metric("params", "min", "M"),
}
# stored metric <- light-file field, and the factor applied
_RUN_FIELDS: dict[str, tuple[str, float]] = {"valid_acc": ("valid_perf", 100.0), "test_acc": ("perf", 100.0)}
_CONFIG_FIELDS: dict[str, tuple[str, float]] = {"latency": ("latency", 1.0), "params": ("para", 1.0)}

SOURCES: dict[str, SourceInfo] = {
    SOURCE: SourceInfo(
        name=SOURCE,
        description="PyPI package nas-bench-graph 1.4.0, light files: validation and test performance, latency "
        "and parameters of the 26,206 canonical GNN cells on 9 graph datasets (proteins: 2,021 cells of its "
        "5-op space); no training time, no curves",
        datasets=DATASETS,
        metrics=(*_RUN_FIELDS, *_CONFIG_FIELDS),
        curves=False,
        schedule=None,
        how_to_get="it is built from the installed package nas-bench-graph==1.4.0 on first use; "
        "if it is damaged, delete its folder and it is built again",
    ),
}


def package_dir() -> Path:
    try:
        return Path(str(resources.files("nas_bench_graph"))) / "light"
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "the package nas-bench-graph is not installed: run `pip install nas-bench-graph==1.4.0`") from None


def read_file(path: Path, dataset: str) -> DatasetTable:
    """One dataset's table from a light ``<dataset>.bench`` file (rows: canonical hashes, ascending)."""
    with open(path, "rb") as handle:
        records: dict[int, dict[str, float]] = pickle.load(handle)
    expected = N_PROTEINS if dataset == "proteins" else N_CONFIGS
    if len(records) != expected:
        raise UserError(f"{path} holds {len(records)} architectures, expected {expected}")
    hashes = canonical_hashes()
    keys = np.fromiter(records, dtype=np.int64, count=len(records))
    rows = np.searchsorted(hashes, keys)
    if np.any(rows >= len(hashes)) or np.any(hashes[np.minimum(rows, len(hashes) - 1)] != keys):
        raise UserError(f"{path}: some keys are not canonical NAS-Bench-Graph hashes")

    def column(field: str, factor: float) -> np.ndarray:
        out = np.full(N_CONFIGS, np.nan)
        try:
            out[rows] = np.fromiter((float(r[field]) for r in records.values()), dtype=np.float64,
                                    count=len(records)) * factor
        except KeyError:
            raise UserError(f"{path}: a record lacks {field!r}") from None
        return out

    return DatasetTable(
        dataset=dataset,
        epochs=np.array([FINAL]),
        total_epochs=FINAL,
        run_metrics={m: column(f, k)[:, None, None] for m, (f, k) in _RUN_FIELDS.items()},
        config_metrics={m: column(f, k) for m, (f, k) in _CONFIG_FIELDS.items()},
    )


def convert_nasbench_graph(directory: Path | None = None) -> list[DatasetTable]:
    directory = package_dir() if directory is None else Path(directory)
    return [read_file(directory / f"{dataset}.bench", dataset) for dataset in DATASETS]


NASBENCH_GRAPH_RECIPE = BenchmarkRecipe(
    name="nasbench_graph",
    description="NAS-Bench-Graph: 26,206 canonical GNN cells (4 nodes, 9 link patterns, 9 ops) on 9 graph "
    "datasets; proteins holds the 2,021 cells of its 5-op space. Final results only; no training time",
    n_configs=N_CONFIGS,
    datasets=DATASETS,
    metrics=NASBENCH_GRAPH_METRICS,
    run_metrics=tuple(_RUN_FIELDS),
    config_metrics=tuple(_CONFIG_FIELDS),
    search_metric="valid_acc",
    report_metric="test_acc",
    cost_metric=None,
    sources=SOURCES,
    default_source=SOURCE,
    builders={SOURCE: convert_nasbench_graph},
    schedule=None,
)
