"""What an evaluation backend returns; the runner and optimizers only see this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from nas_exp.search_spaces.nb201 import Arch


@dataclass(frozen=True)
class Evaluation:
    """One evaluated cell.

    ``valid_acc`` is what the optimizer is told (validation accuracy, %, at the fidelity it asked for);
    ``final_valid_acc`` and ``test_acc`` are what is reported for the cell after full training (%; None where
    the data has none); ``cost`` is the training time in (possibly simulated) seconds of what was trained;
    ``epochs`` the epochs trained (None: the evaluator's full training); ``metrics`` extra per-cell figures
    (params, flops, latency) for multi-objective search."""

    valid_acc: float
    test_acc: float | None
    cost: float
    seed: int | None = None
    epochs: int | None = None
    final_valid_acc: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def reported_valid_acc(self) -> float:
        return self.valid_acc if self.final_valid_acc is None else self.final_valid_acc


class Evaluator(Protocol):
    description: str  # one line for result.json
    missing_note: str  # what the data cannot report (e.g. no test accuracy), or ""
    max_epochs: int  # the epochs of full training: the top fidelity

    def evaluate(self, arch: Arch, rng: np.random.Generator, epochs: int | None = None,
                 hyperparameters: Mapping[str, float] | None = None) -> Evaluation: ...
