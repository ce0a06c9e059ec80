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

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from ConfigSpace import Configuration, ConfigurationSpace

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


    def to_dict(self) -> dict[str, Any]:
        """The record, its keys in field order (``dataclasses.asdict`` would deep-copy, ~10x slower)."""
        return {name: getattr(self, name) for name in TRIAL_FIELDS}


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
        self._ids: dict[tuple[tuple[str, Any], ...], int] = {}

    def config_id(self, config: Configuration, origin: str | None = None) -> int:
        values = dict(config)
        key = tuple(values.items())  # a Configuration's own hash formats its repr, ~50x slower
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._ids) + 1
            self.configs[found] = values
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
            "data": [trial.to_dict() for trial in self.trials],
            "configs": {str(i): values for i, values in self.configs.items()},
            "config_origins": {str(i): origin for i, origin in self.origins.items()},
        }

    def write(self, folder: Path) -> Path:
        """Write the three files into ``folder`` (created), each atomically (a reader never sees half a file);
        runhistory.json as compact ``json.dumps`` (json's C encoder; ``json.dump`` or an indent use its
        pure-Python one, several times slower)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / CONFIGSPACE_FILE, lambda handle: self.configspace.to_json(handle, indent=2))
        write_text_atomic(folder / SCENARIO_FILE,
                          lambda handle: json.dump(self.scenario.to_dict(), handle, indent=2))
        write_text_atomic(folder / RUNHISTORY_FILE,  # last: DeepCAVE's hash of the run is this file's
                          lambda handle: handle.write(json.dumps(self.to_dict(), separators=(",", ":"))))
        return folder


def write_text_atomic(path: Path, write: Callable[[IO[str]], Any]) -> None:
    """``write`` into a temporary file beside ``path``, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            write(handle)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
