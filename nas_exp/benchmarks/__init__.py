"""Tabular benchmarks: a recipe (``base.BenchmarkRecipe``) plus data in the store, queried by configuration row."""

from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.benchmarks.records import MetricUnavailableError, QueryResult
from nas_exp.benchmarks.tabular import TabularBenchmark

__all__ = ["BenchmarkRecipe", "Metric", "MetricUnavailableError", "QueryResult", "SourceInfo", "TabularBenchmark"]
