"""Tabular benchmarks: a recipe (``base.BenchmarkRecipe``) plus data in the store (``nas_exp.data.store``),
queried by configuration row (``tabular.TabularBenchmark``). This package module imports nothing that imports the
store, so the store, the converters and the benchmarks can be imported in any order."""

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.benchmarks.records import MetricUnavailableError, QueryResult

__all__ = ["BenchmarkRecipe", "Metric", "MetricUnavailableError", "QueryResult", "SourceInfo"]
