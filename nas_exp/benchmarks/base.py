"""What a tabular benchmark is, independent of any search space: its metrics (with direction and unit), its data
sources, and the recipe that says how its store is laid out and built.

A benchmark's results live in the store (``nas_exp.data.store``) as, per task (dataset), arrays indexed by
configuration row first: per-run metrics ``(n_configs, n_seeds, n_fidelities)`` and per-configuration metrics
``(n_configs,)``. Adding a benchmark is one recipe (a ``BenchmarkRecipe``) plus the space that maps its
configurations to rows (see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nas_exp.errors import UserError

DIRECTIONS = ("max", "min")


@dataclass(frozen=True)
class Metric:
    """A metric a benchmark reports: its name as stored, whether larger or smaller is better, its unit, and its
    ``bound`` (the best possible value of an accuracy-like metric: 100 for %, 1 for a fraction), which makes its
    loss ``bound - value``; a metric to minimise is its own loss. ``log_scale``: regret plotted on a log axis
    (errors such as MSE that span decades)."""

    name: str
    direction: str
    unit: str = ""
    bound: float | None = None
    log_scale: bool = False

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise UserError(f"metric {self.name!r}: direction must be one of {', '.join(DIRECTIONS)}, "
                             f"got {self.direction!r}")

    @property
    def maximize(self) -> bool:
        return self.direction == "max"

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than``."""
        return value > than if self.maximize else value < than

    def loss(self, value: float) -> float:
        """What an optimizer minimises for this metric."""
        if not self.maximize:
            return value
        return (self.bound - value) if self.bound is not None else -value

    def regret(self, optimum: float, value: float) -> float:
        """How far ``value`` is from ``optimum`` (>= 0 when ``optimum`` is the best value), in the metric's unit."""
        return optimum - value if self.maximize else value - optimum

    @classmethod
    def percent(cls, name: str) -> Metric:
        """A score in % to maximise (accuracy, F1, ...): loss ``100 - value``."""
        return cls(name, "max", "%", bound=100.0)

    def label(self) -> str:
        """``valid_acc [%]``: the name with its unit, for tables and axes."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction, "unit": self.unit, "bound": self.bound,
                "log_scale": self.log_scale}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Metric:
        return cls(name=str(values["name"]), direction=str(values["direction"]), unit=str(values.get("unit", "")),
                   bound=values.get("bound"), log_scale=bool(values.get("log_scale", False)))


@dataclass(frozen=True)
class SourceInfo:
    """One data source of a benchmark: what it holds and how to get it."""

    name: str
    description: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    curves: bool  # every fidelity (epoch) stored, not only the last
    how_to_get: str
    lacks: frozenset[tuple[str, str]] = frozenset()  # (dataset, metric) pairs absent although both are listed
    schedule: int | None = None  # epochs of the training schedule its results come from (None: not epochs)


TableBuilder = Callable[[], list]  # returns the store's DatasetTables of one source (nas_exp.data.store)


@dataclass(frozen=True)
class BenchmarkRecipe:
    """Everything generic code needs to know about a tabular benchmark.

    ``name`` is the store folder; ``n_configs`` the rows of every array; ``datasets`` its tasks;
    ``run_metrics`` are stored per configuration x seed x fidelity, ``config_metrics`` per configuration.
    ``search_metric`` is what an optimizer is told by default, ``report_metric`` the held-out figure reported
    beside it (it may be absent from a source), ``cost_metric`` the per-run training time charged to the
    budget. ``builders``: sources that ship inside an installed package and are converted on first use."""

    name: str
    description: str
    n_configs: int
    datasets: tuple[str, ...]
    metrics: Mapping[str, Metric]
    run_metrics: tuple[str, ...]
    config_metrics: tuple[str, ...]
    search_metric: str
    report_metric: str | None
    cost_metric: str | None  # None: the source records no training time (evaluations cost nothing)
    sources: Mapping[str, SourceInfo]
    default_source: str
    builders: Mapping[str, TableBuilder] = field(default_factory=dict)
    schedule: int | None = None  # the training schedule (epochs) of the main sources; sources_with's default

    def __post_init__(self) -> None:
        for name in (*self.run_metrics, *self.config_metrics, self.search_metric,
                     *([self.cost_metric] if self.cost_metric else []),
                     *([self.report_metric] if self.report_metric else [])):
            if name not in self.metrics:
                raise UserError(f"benchmark {self.name}: metric {name!r} is not declared in metrics")
        if self.default_source not in self.sources:
            raise UserError(f"benchmark {self.name}: default source {self.default_source!r} is not in sources")

    def metric(self, name: str) -> Metric:
        if name not in self.metrics:
            raise UserError(f"benchmark {self.name} has no metric {name!r}; it has {', '.join(self.metrics)}")
        return self.metrics[name]

    def source(self, name: str) -> SourceInfo:
        if name not in self.sources:
            raise UserError(f"unknown {self.name} data source {name!r}; valid: {', '.join(self.sources)}")
        return self.sources[name]

    def check_dataset(self, dataset: str, hint: str = "") -> str:
        """``dataset`` if the benchmark has it, else a one-line error listing the ones it has."""
        if dataset not in self.datasets:
            raise UserError(f"dataset {dataset!r} is not in the {self.name} benchmark; valid: "
                             f"{', '.join(self.datasets)}{hint}")
        return dataset

    def sources_with(self, metric: str | None = None, dataset: str | None = None, curves: bool = False,
                     schedule: int | None | str = "main") -> list[str]:
        """Names of the sources that provide ``metric`` on ``dataset`` (with per-epoch curves if asked), from
        training runs of ``schedule`` epochs (``"main"``: the recipe's own schedule; None: any)."""
        schedule = self.schedule if schedule == "main" else schedule
        return [
            s.name for s in self.sources.values()
            if (metric is None or metric in s.metrics)
            and (dataset is None or dataset in s.datasets)
            and (s.curves or not curves)
            and (dataset, metric) not in s.lacks
            and (schedule is None or s.schedule == schedule)
        ]
