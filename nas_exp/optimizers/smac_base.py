"""What every SMAC-backed optimizer shares: the Scenario pointed into the run folder, and ask/tell.

Notes (SMAC 2.4): its output folder is always written, so it is pointed into the run's own folder; ``overwrite``
is forced so an identical earlier run is never silently resumed; ``deterministic=True`` because a tabular lookup
of a configuration never changes. Runs are reproducible only with PYTHONHASHSEED=0 (run.py sees to it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smac import Scenario
from smac.main.exceptions import ConfigurationSpaceExhaustedException
from smac.runhistory.dataclasses import TrialValue
from smac.utils.numpyencoder import NumpyEncoder

from nas_exp.checks import require_int
from nas_exp.configspace_layout import space_size
from nas_exp.errors import UserError
from nas_exp.interruption import deferred
from nas_exp.optimizers.base import Optimizer, SpaceUsedUp, Trial
from nas_exp.optimizers.exhaustive_acquisition import ExhaustiveAcquisitionMaximizer, enumeration_problem
from nas_exp.optimizers.smac_components import (LookupConfigSelector, LookupIntensifier, LookupRandomForest,
                                                config_key)

UNBOUNDED_TRIALS = 100_000
SAVE_EVERY = 100  # tells between two writes of SMAC's run history (evaluations.jsonl is the crash-safe record)
ACQUISITION_MAXIMIZERS = ("auto", "exhaustive", "local_search")


def check_acquisition(acquisition: str) -> str:
    if acquisition not in ACQUISITION_MAXIMIZERS:
        raise UserError(f"unknown optimizer.acquisition {acquisition!r}; valid: {', '.join(ACQUISITION_MAXIMIZERS)}")
    return acquisition


def check_forest(n_trees: Any, max_leaf_nodes: Any, n_jobs: Any = 1, max_points: Any = None) -> None:
    """The random forest's settings as ints in the project's words, before scikit-learn sees them."""
    require_int(n_trees, "optimizer.n_trees")
    if max_leaf_nodes is not None:
        require_int(max_leaf_nodes, "optimizer.rf_max_leaf_nodes (or null)", 2)
    if max_points is not None:
        require_int(max_points, "optimizer.rf_max_points (or null: every trial)", 2)
    if n_jobs != -1:
        require_int(n_jobs, "optimizer.rf_n_jobs (or -1: all cores)")


def check_n_initial(n_initial: Any) -> int | None:
    return None if n_initial is None else require_int(n_initial, "optimizer.n_initial (or null: SMAC's rule)")


def acquisition_maximizer(facade: Any, scenario: Scenario, acquisition: str) -> Any:
    """``exhaustive``: score every unevaluated configuration (finite spaces); ``local_search``: the facade's own;
    ``auto``: exhaustive where the space can be enumerated (NB201's cells), else local search (e.g. with the
    continuous learning rate of ``search_space=nb201_hpo``)."""
    acquisition = check_acquisition(acquisition)
    if acquisition == "auto":
        acquisition = "exhaustive" if enumeration_problem(scenario.configspace) is None else "local_search"
    if acquisition == "exhaustive":
        return ExhaustiveAcquisitionMaximizer(scenario.configspace, seed=scenario.seed)
    return facade.get_acquisition_maximizer(scenario)


def initial_design(facade: Any, scenario: Scenario, n_initial: int | None, expected_trials: int | None = None) -> Any:
    """The facade's initial design: ``n_initial`` configurations if given; else SMAC's own rule (HPO facade:
    min(10 per hyperparameter, 25% of the trials)) applied to the evaluations the run is expected to make. A
    time-budgeted run has no trial count (the scenario's is 100,000, unbounded), and SMAC's rule on that would
    spend 60 of NB201's ~105 evaluations in 12000 s on random configurations; ``expected_trials`` (the time
    budget over the table's mean cost) sizes it as if the count were known. With an evaluation budget
    (``scenario.n_trials`` is it) nothing changes."""
    if n_initial is not None:
        return facade.get_initial_design(scenario, n_configs=n_initial)
    if expected_trials is not None and scenario.n_trials == UNBOUNDED_TRIALS:
        return facade.get_initial_design(dataclasses.replace(scenario, n_trials=max(1, int(expected_trials))))
    return facade.get_initial_design(scenario)


def config_selector(facade: Any, scenario: Scenario) -> LookupConfigSelector:
    """The facade's config selector settings (retrain after k proposals, retries) in ``LookupConfigSelector``,
    which proposes what SMAC's would, without its list scans (see ``smac_components``)."""
    default = facade.get_config_selector(scenario)
    return LookupConfigSelector(scenario, retrain_after=default._retrain_after,
                                max_new_config_tries=default._max_new_config_tries)


def intensifier(facade: Any, scenario: Scenario, max_config_calls: int = 1, max_incumbents: int = 10) -> Any:
    """One evaluation per configuration (tabular lookups are deterministic): ``LookupIntensifier``, SMAC's
    intensifier without its per-ask scans; more calls per configuration: the facade's own ``Intensifier``."""
    if max_config_calls == 1:
        return LookupIntensifier(scenario, max_incumbents=max_incumbents)
    return facade.get_intensifier(scenario, max_config_calls=max_config_calls, max_incumbents=max_incumbents)


def random_forest(scenario: Scenario, n_trees: int = 10, n_jobs: int = 1,
                  max_leaf_nodes: int | None = None, max_points: int | None = None) -> LookupRandomForest:
    """SMAC's HPO-facade forest (log-scaled costs, fully grown trees on all features), with two speed settings:
    ``n_jobs=1`` (threads cost more than they save on forests this small) and ``max_leaf_nodes=None``, which lets
    scikit-learn grow the trees depth-first instead of best-first: the same unlimited trees in kind, about 4x
    faster to fit here (SMAC's default is 2**20). Its trees, and so the trajectories, differ from the default's.
    ``max_points``: the most trials a tree's bootstrap draws (``LookupRandomForest``); None: all of them."""
    return LookupRandomForest(
        scenario.configspace, log_y=True, n_trees=n_trees, ratio_features=1.0, min_samples_split=2,
        min_samples_leaf=1, max_depth=2**20, max_leaf_nodes=max_leaf_nodes, bootstrapping=True, seed=scenario.seed,
        n_jobs=n_jobs, max_points=max_points,
    )


def _used_text(configspace: Any, n_evaluated: int) -> str:
    """How many configurations were evaluated, of how many (where the space is finite)."""
    size = space_size(configspace)
    if size is None:
        return f"{n_evaluated:,} configurations evaluated"
    plain = not (configspace.conditions or configspace.forbidden_clauses)
    return f"{n_evaluated:,} of its {'' if plain else 'at most '}{size:,} configurations evaluated"


class SMACAskTell(Optimizer):
    """Subclasses build ``self.smac`` (a SMAC facade) from ``self.scenario(...)``."""

    writes_run_history = True  # SMAC's own run history in smac3/smac/SEED/, which DeepCAVE opens
    used_up_note = ""  # why fewer configurations than the space's were evaluated, in the used-up stop reason

    def __init__(self, *args, log_level: int = logging.ERROR, save_every: int = SAVE_EVERY, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (isinstance(save_every, int) and save_every >= 1):
            raise UserError(f"optimizer.save_every must be a whole number >= 1 (tells between run-history writes), "
                            f"got {save_every!r}")
        self.log_level = log_level
        self.save_every = save_every
        self._told = 0
        self._asked = 0
        self._clock = 0.0  # simulated seconds told so far: the trials' start and end times in SMAC's run history
        logging.getLogger("smac").setLevel(log_level)  # also after Hydra re-configures logging for a later job
        self.smac: Any = None

    def scenario(self, **extra: Any) -> Scenario:
        output_dir = Path(self.output_dir) if self.output_dir is not None else Path(tempfile.mkdtemp())
        return Scenario(
            self.configspace,
            name="smac",
            output_directory=output_dir / "smac3",
            deterministic=True,
            n_trials=self.max_trials or UNBOUNDED_TRIALS,
            seed=self.seed,
            **extra,
        )

    @staticmethod
    def no_target(config, seed: int = 0, budget: float | None = None) -> float:  # pragma: no cover
        raise RuntimeError("SMAC is driven by ask/tell here; the target function is never called")

    def ask(self) -> Trial:
        try:
            with deferred():  # a stop inside SMAC's bookkeeping would leave its run history unsavable
                info = self.smac.ask()
        except ConfigurationSpaceExhaustedException:
            raise SpaceUsedUp(f"optimizer={self.name} found no configuration left that it has not proposed, after "
                              f"{self._asked} trials of this run: the space is used up ("
                              f"{_used_text(self.configspace, self._n_evaluated())}{self.used_up_note}), so the "
                              f"search stopped before its budget (optimizer=random repeats once the space is used "
                              f"up)") from None
        self._asked += 1
        return Trial(config=info.config, budget=info.budget, handle=info)

    def _n_evaluated(self) -> int:
        """Distinct configurations in SMAC's run history (by encoded vector: SMAC may hold one configuration twice,
        as ``str`` and as ``np.str_`` values)."""
        return len({config_key(config) for config in self.smac.runhistory.get_configs()})

    def tell(self, trial: Trial, loss: float | list[float], cost: float) -> None:
        """SMAC rewrites its whole run history on every tell by default (quadratic in trials); here it is written
        every ``save_every`` tells and by ``close``. Start and end times are the simulated clock (the sum of the
        costs told), so DeepCAVE's Time objective is the simulated training time, as in nas-exp's deepcave/
        exports; SMAC itself only stores them."""
        self._told += 1
        start, self._clock = self._clock, self._clock + cost
        with deferred():
            self.smac.tell(trial.handle, TrialValue(cost=loss, time=cost, starttime=start, endtime=self._clock),
                           save=False)
        if self._told % self.save_every == 0:
            self.save()

    def save(self) -> None:
        """Write SMAC's run history, intensifier and optimizer state (smac3/smac/SEED/) atomically."""
        if self.smac is not None:
            save_smbo_atomically(self.smac.optimizer)

    def close(self) -> None:
        """Write SMAC's state (smac3/), so the folder is complete; also after an interruption (blackbox.py)."""
        self.save()


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary .json file beside ``path``, then rename it over ``path``: a reader (or a
    resumed run) sees the old file or the new one, never half of one; the temporary file never stays."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_smbo_atomically(smbo: Any) -> None:
    """What ``smac.main.smbo.SMBO.save`` writes (optimization.json, runhistory.json, intensifier.json), each
    through a temporary file and a rename: SMAC's own save writes in place, so a run stopped while it writes
    left invalid JSON behind."""
    path = smbo._scenario.output_directory
    if path is None:
        return
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {
        "used_walltime": smbo.used_walltime,
        "used_target_function_walltime": smbo.used_target_function_walltime,
        "used_target_function_cputime": smbo.used_target_function_cputime,
        "last_update": time.time(),
        "finished": smbo._finished,
    }

    def write_state(tmp: Path) -> None:
        tmp.write_text(json.dumps(state, indent=2, cls=NumpyEncoder))

    write_atomically(path / "optimization.json", write_state)
    write_atomically(path / "runhistory.json", smbo._runhistory.save)
    write_atomically(path / "intensifier.json", smbo._intensifier.save)
