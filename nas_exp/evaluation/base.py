"""What an evaluation backend returns; the runner and optimizers only see this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from nas_exp.search_spaces.nb201 import Arch


@dataclass(frozen=True)
class Evaluation:
    """One evaluated cell: the accuracy the optimizer is told (valid, %), the accuracy reported (test, %, None if
    the data has none) and the cost in (possibly simulated) seconds."""

    valid_acc: float
    test_acc: float | None
    cost: float
    seed: int | None = None


class Evaluator(Protocol):
    description: str  # one line for result.json
    missing_note: str  # what the data cannot report (e.g. no test accuracy), or ""

    def evaluate(self, arch: Arch, rng: np.random.Generator) -> Evaluation: ...
