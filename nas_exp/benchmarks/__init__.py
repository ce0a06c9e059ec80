from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.benchmarks.records import MetricUnavailableError, QueryResult

__all__ = ["NB201Benchmark", "MetricUnavailableError", "QueryResult"]
