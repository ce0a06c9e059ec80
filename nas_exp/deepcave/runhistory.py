"""SMAC 2.x's run-history folder, the layout DeepCAVE's ``SMAC3v2Run`` converter opens: ``configspace.json``
(ConfigSpace's own JSON), ``runhistory.json`` (``data``: one record per trial, ``configs`` and
``config_origins`` by config id) and ``scenario.json`` (``objectives`` and ``seed`` are what the converter needs;
every other key becomes the run's meta). This file knows the format only, nothing of nas-exp runs.

Format facts the converter relies on (DeepCAVE ``deepcave/runs/converters/smac3v2.py``): the fields of a ``data``
record are read by position in SMAC's order (``TRIAL_FIELDS``); config ids are looked up as strings; status 1 is
success; a null or 0 budget reads as budget 0.0; the cost is one number per objective (a list for several), and
DeepCAVE adds its own ``Time`` objective, ``endtime - starttime`` of each trial.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from nas_exp.trajectory import write_json_atomic

CONFIGSPACE_FILE = "configspace.json"
RUNHISTORY_FILE = "runhistory.json"
SCENARIO_FILE = "scenario.json"
SUCCESS = 1  # SMAC's StatusType.SUCCESS
SINGLE_OBJECTIVE = "cost"  # what SMAC's scenario calls one objective (nas-exp's SMAC runs keep that name)


@dataclass(frozen=True)
class HistoryTrial:
    """One record of ``runhistory.json``'s ``data``, its fields in SMAC's order (the converter reads them by
    position). ``cost``: one number per objective, minimised; ``time``: the trial's cost in seconds."""

    config_id: int
    instance: str | None
    seed: int | None
    budget: float | None
    cost: float | list[float]
    time: float
    cpu_time: float
    status: int
    starttime: float
    endtime: float
    additional_info: dict[str, Any] = field(default_factory=dict)


TRIAL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(HistoryTrial))


@dataclass(frozen=True)
class Scenario:
    """What ``scenario.json`` says: the objective names (one: SMAC's ``"cost"``), the run's seed, and ``meta``
    (more keys, shown as the run's meta data in DeepCAVE)."""

    name: str
    objectives: tuple[str, ...]
    seed: int
    n_trials: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        objectives: str | list[str] = self.objectives[0] if len(self.objectives) == 1 else list(self.objectives)
        return {"name": self.name, "deterministic": True, "objectives": objectives, "n_trials": self.n_trials,
                "instances": None, "seed": self.seed, **self.meta}


class RunHistory:
    """Trials of one run, each with its configuration; configurations get SMAC's ids (1, 2, ... in order of
    first appearance), so a configuration tried at several budgets keeps one id."""

    def __init__(self, configspace: ConfigurationSpace, scenario: Scenario) -> None:
        self.configspace = configspace
        self.scenario = scenario
        self.trials: list[HistoryTrial] = []
        self.configs: dict[int, dict[str, Any]] = {}
        self.origins: dict[int, str | None] = {}
        self._ids: dict[Configuration, int] = {}

    def config_id(self, config: Configuration, origin: str | None = None) -> int:
        found = self._ids.get(config)
        if found is None:
            found = self._ids[config] = len(self._ids) + 1
            self.configs[found] = dict(config)
            self.origins[found] = origin
        return found

    def add(self, config: Configuration, cost: float | Sequence[float], time: float, starttime: float,
            endtime: float, seed: int | None, budget: float | None = None, origin: str | None = None,
            additional_info: Mapping[str, Any] | None = None) -> HistoryTrial:
        """Record one successful trial (nas-exp records only evaluations that returned)."""
        costs = list(cost) if isinstance(cost, Sequence) else float(cost)
        if isinstance(costs, list) and len(costs) != len(self.scenario.objectives):
            raise ValueError(f"{len(costs)} costs for objectives {', '.join(self.scenario.objectives)}")
        trial = HistoryTrial(config_id=self.config_id(config, origin), instance=None, seed=seed,
                             budget=None if budget is None else float(budget), cost=costs, time=float(time),
                             cpu_time=0.0, status=SUCCESS, starttime=float(starttime), endtime=float(endtime),
                             additional_info=dict(additional_info or {}))
        self.trials.append(trial)
        return trial

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": {"submitted": len(self.trials), "finished": len(self.trials), "running": 0},
            "data": [asdict(trial) for trial in self.trials],
            "configs": {str(i): values for i, values in self.configs.items()},
            "config_origins": {str(i): origin for i, origin in self.origins.items()},
        }

    def write(self, folder: Path) -> Path:
        """Write the three files into ``folder`` (created), each atomically (a reader never sees half a file)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{CONFIGSPACE_FILE}.", dir=folder)
        try:
            with os.fdopen(fd, "w") as handle:
                self.configspace.to_json(handle, indent=2)
            os.replace(tmp, folder / CONFIGSPACE_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        write_json_atomic(folder / SCENARIO_FILE, self.scenario.to_dict())
        write_json_atomic(folder / RUNHISTORY_FILE, self.to_dict())  # last: DeepCAVE's hash of the run
        return folder
