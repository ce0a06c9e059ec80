"""The ask/tell interface every optimizer implements. It knows configurations and losses, nothing of NB201."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from nas_exp.errors import UserError


class SpaceUsedUp(UserError):
    """Raised by ``ask`` of an optimizer that proposes only configurations it has not proposed before (SMAC's
    intensifiers; Hyperband's new brackets) once none is left. The search loop ends there, before its budget, and
    the message (one line) is the run's stop reason in result.json; called directly it is a one-line error."""


@dataclass
class Trial:
    """One proposal. ``handle`` is the optimizer's own bookkeeping (e.g. SMAC's TrialInfo)."""

    config: Configuration
    budget: float | None = None  # fidelity (e.g. epochs) for multi-fidelity optimizers; None = full
    handle: Any = field(default=None, repr=False)


class Optimizer(ABC):
    """Proposes configurations (``ask``) and learns from their loss (``tell``); lower loss is better."""

    name: str = "optimizer"
    max_budget: float | None = None  # multi-fidelity: the top budget (epochs); None = every trial is full
    resumes_training: bool = False  # continues a cell's training from its checkpoint at a higher budget
    multi_objective: bool = False  # accepts a list of losses in tell (one per objective)
    takes_objectives: bool = False  # its constructor takes ``objectives`` (the objective names)
    takes_proxy_scorer: bool = False  # its constructor takes ``scorer``, a zero-cost ProxyScorer the run builds
    # from the space (nas_exp/proxies/scorer.py) with the optimizer's proxy_settings, use_cache and cache_root
    proposes_each_once: bool = False  # never proposes a configuration twice (SMAC's lookup intensifier): an
    # evaluation budget larger than the space is refused before the run
    uses_budgets: bool = False  # multi-fidelity: asks for budgets (epochs), listed by ``budgets()``
    writes_run_history: bool = False  # writes its own DeepCAVE-readable run history (SMAC: smac3/); else the
    # run exports one (nas_exp/deepcave/)
    takes_encoder: bool = False  # its constructor takes ``encoding`` (auto | path | onehot) and ``encoder``: the
    # feature encoder the run builds from the space (nas_exp/feature_encoders.py), None for the ConfigSpace's one-hot

    def __init__(self, configspace: ConfigurationSpace, seed: int, output_dir: Path | None = None,
                 max_trials: int | None = None, expected_trials: int | None = None) -> None:
        """``max_trials``: the evaluation budget, if the run has one; ``expected_trials``: how many evaluations
        the budget is expected to allow (``max_trials``, or a time budget divided by the table's mean cost), for
        optimizers that size a phase by it (SMAC's initial design)."""
        self.configspace = configspace
        self.seed = seed
        self.output_dir = output_dir
        self.max_trials = max_trials
        self.expected_trials = max_trials if expected_trials is None else expected_trials

    def budgets(self) -> list[int]:
        """The budgets (epochs) a multi-fidelity optimizer asks for (``uses_budgets``); none otherwise."""
        return []

    def settings_used(self) -> dict[str, Any]:
        """What the optimizer settled at build time that its config does not say (bananas with encoding=auto:
        ``{"encoding": "path"}``); result.json records it as ``optimizer_settings``."""
        return {}

    def close(self) -> None:
        """Called once when the search ends (finished, stopped or interrupted): write what was buffered."""

    @abstractmethod
    def ask(self) -> Trial: ...

    @abstractmethod
    def tell(self, trial: Trial, loss: float | list[float], cost: float) -> None: ...
