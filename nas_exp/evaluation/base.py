"""What an evaluation backend returns and declares; the runner and optimizers only see this."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from nas_exp.benchmarks.base import Metric


@dataclass(frozen=True)
class Evaluation:
    """One evaluated architecture, in the units of the evaluator's declared metrics.

    ``value`` is the evaluator's ``search_metric`` at the fidelity asked for (what the objective scores);
    ``final_value`` and ``test`` are what is reported after full training: the search metric and the
    ``report_metric`` (None where the data has none); ``cost`` is the training time in (possibly simulated)
    seconds of what was trained; ``epochs`` the epochs trained (None: the evaluator's full training);
    ``metrics`` extra per-architecture figures by name (params, latency, model_size, ...)."""

    value: float
    test: float | None
    cost: float
    seed: int | None = None
    epochs: int | None = None
    final_value: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def reported_value(self) -> float:
        return self.value if self.final_value is None else self.final_value


@dataclass(frozen=True)
class Optimum:
    """The best values the evaluator's data holds: of the search metric on the searched dataset and of the
    report metric on the reported one (None where unknown), with where they come from."""

    value: float
    test: float | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "test": self.test, "source": self.source}


class Evaluator(Protocol):
    """Declared, not sniffed: what it measures (``search_metric``, ``report_metric``), whether it trains
    networks (``trains``), and the epochs of a full training (``max_epochs``, the top fidelity).

    Optional: ``reports_epochs = True`` with an ``epoch_listener`` attribute (``EpochListener | None``) that it
    calls after every training epoch (train mode's per-epoch progress); an evaluator without it reports none."""

    description: str  # one line for result.json
    missing_note: str  # what the data cannot report (e.g. no test accuracy), or ""
    max_epochs: int
    trains: bool
    search_metric: Metric
    report_metric: Metric | None
    records_cost: bool  # False: evaluations cost nothing (the data has no training time)
    ignores_budgets: bool  # True: every multi-fidelity trial is answered as a full evaluation

    def evaluate(self, arch: Hashable, rng: np.random.Generator, epochs: int | None = None,
                 hyperparameters: Mapping[str, float] | None = None) -> Evaluation: ...

    def fidelities(self) -> tuple[int, ...] | None:
        """The epoch counts it answers for (None: any; budgets are ignored)."""
        ...

    def reports_metric(self, name: str) -> bool:
        """Whether evaluations carry ``name`` in ``metrics``."""
        ...

    def expected_cost(self) -> float | None:
        """The mean cost of a full evaluation, where the data knows it (sizes optimizer phases under a time
        budget)."""
        ...

    def optimum(self) -> Optimum | None:
        """The table's best values (None: unknown, e.g. when training)."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Where its numbers come from (benchmark, source, file checksums), for result.json."""
        ...


def cost_kind(evaluator: Evaluator) -> str | None:
    """What an evaluation's ``cost`` is, by what the evaluator declares: ``measured`` seconds of a real training
    (``trains``), ``simulated`` seconds looked up in a table (``records_cost``), or None (the data has no times)."""
    if evaluator.trains:
        return "measured"
    return "simulated" if evaluator.records_cost else None


@dataclass(frozen=True)
class EpochProgress:
    """One training epoch done, as an evaluator that trains reports it to its ``epoch_listener`` (evaluators
    declaring ``reports_epochs``; the run sets the listener when it evaluates one cell at a time)."""

    epoch: int  # epochs of this training done
    epochs: int  # epochs this training runs
    seconds: float  # the epoch's training time
    train_loss: float
    train_acc: float  # %
    training: str  # what is trained, e.g. the dataset (an evaluation may train twice: search and report data)


EpochListener = Callable[[EpochProgress], None]
