"""DEHB (Awad, Mallik & Hutter 2021): differential evolution inside Hyperband brackets, through DEHB's own
ask/tell (the ``dehb`` extra: ``pip install 'nas-exp[dehb]'``, DEHB 0.1.1; 0.1.2 pins numpy < 2).

Budgets are training epochs between ``min_budget`` and ``max_budget`` (DEHB's fidelities ``max_budget /
eta**k``), so it needs an evaluation that answers after those epochs: a table with learning curves, train mode,
or ``++evaluation.budget_as_epochs=false`` (every trial a full evaluation), exactly as ``hyperband``/``bohb``.
DEHB maps a [0, 1] vector to every hyperparameter, so spaces with conditions or forbidden clauses are refused.
Its state and log go to ``dehb/`` in the run folder, written when the search ends.
"""

from __future__ import annotations

import copy
import math
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nas_exp.errors import UserError, import_optional
from nas_exp.optimizers.base import Optimizer, Trial


@contextmanager
def old_configspace_calls() -> Iterator[None]:
    """DEHB 0.1.1 calls ConfigSpace's pre-1.0 methods (``get_hyperparameters``, ``get_dictionary``), each with a
    DeprecationWarning; they still work, so they are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class DEHBOptimizer(Optimizer):
    name = "dehb"
    uses_budgets = True

    def __init__(self, *args: Any, min_budget: float = 12, max_budget: float = 200, eta: float = 3,
                 mutation_factor: float = 0.5, crossover_prob: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 0 < min_budget < max_budget:
            raise UserError(f"optimizer.min_budget must be in (0, max_budget={max_budget}), got {min_budget!r}")
        if not eta > 1:
            raise UserError(f"optimizer.eta must be > 1, got {eta!r}")
        for key, value in (("mutation_factor", mutation_factor), ("crossover_prob", crossover_prob)):
            if not 0 < value <= 1:
                raise UserError(f"optimizer.{key} must be in (0, 1], got {value!r}")
        clauses = len(self.configspace.conditions) + len(self.configspace.forbidden_clauses)
        if clauses:
            raise UserError(f"optimizer=dehb cannot search a space with conditions or forbidden clauses (this one "
                            f"has {clauses}): DEHB maps a [0, 1] vector to every hyperparameter; use bohb or smac")
        DEHB = import_optional("dehb", "optimizer=dehb",
                               "DEHB: pip install 'nas-exp[dehb]' (or pip install dehb==0.1.1)").DEHB
        self.min_budget, self.max_budget, self.eta = float(min_budget), float(max_budget), eta
        space = copy.deepcopy(self.configspace)
        space.seed(self.seed)  # DEHB samples its first populations from the space's own generator
        # DEHB writes its log at once and its state on save(); without a run folder, a folder of its own
        self._scratch = tempfile.TemporaryDirectory(prefix="nas-exp-dehb-") if self.output_dir is None else None
        folder = Path(self._scratch.name) if self._scratch is not None else Path(self.output_dir) / "dehb"
        with old_configspace_calls():
            self._dehb = DEHB(cs=space, dimensions=len(space), min_fidelity=self.min_budget,
                              max_fidelity=self.max_budget, eta=eta, mutation_factor=mutation_factor,
                              crossover_prob=crossover_prob, n_workers=1, seed=self.seed, save_freq="end",
                              log_level="WARNING", output_path=str(folder))

    def budgets(self) -> list[int]:
        n_rungs = int(math.floor(math.log(self.max_budget / self.min_budget) / math.log(self.eta) + 1e-9)) + 1
        return sorted({max(1, round(self.max_budget / self.eta**k)) for k in range(n_rungs)})

    def ask(self) -> Trial:
        with old_configspace_calls():
            job = self._dehb.ask()
        return Trial(config=job["config"], budget=float(job["fidelity"]), handle=job)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        with old_configspace_calls():
            self._dehb.tell(trial.handle, {"fitness": float(loss), "cost": float(cost)})

    def close(self) -> None:
        if self._scratch is None:
            with old_configspace_calls():
                self._dehb.save()
        else:
            self._scratch.cleanup()
