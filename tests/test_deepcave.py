"""Runs DeepCAVE opens: every black-box run has a SMAC 2.x run history (SMAC's own in smac3/, the others'
deepcave/), read here the way DeepCAVE's SMAC3v2 converter reads it (DeepCAVE does not install on this Python)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace
from hydra import compose, initialize_config_dir
from smac.runhistory import RunHistory as SMACRunHistory

from conftest import REPO
from nas_exp.app import run_experiment
from nas_exp.deepcave.__main__ import main
from nas_exp.deepcave.export import export_folder
from nas_exp.deepcave.folder import deepcave_folder
from nas_exp.resume import EVALUATIONS_FILE
from nas_exp.search_spaces.nb201 import NB201Space
from nas_exp.trajectory import TrajectoryRow, read_trajectory

# --- DeepCAVE's reader ---------------------------------------------------------------------------------------------
# Follows deepcave/runs/converters/smac3v2.py (SMAC3v2Run.from_path, _process_data_entry, is_valid_run) and the
# parts of deepcave/runs/run.py (Run.add) and deepcave/runs/trial.py (Trial.get_key) it relies on, at
# github.com/automl/DeepCAVE commit 03f7e2cd1b4efbfbceb10e67cc4c39ca90e1d0b7 (2025-08-01), step by step:
# the files it opens, the keys it reads, and what it makes of them.

SUCCESS, TIMEOUT, MEMORYOUT, CRASHED = 1, 2, 3, 4  # deepcave.runs.status.Status


@dataclass(frozen=True)
class LoadedTrial:
    config_id: int  # DeepCAVE's own id (0, 1, ... by first appearance), not the file's
    config: dict[str, Any]
    costs: list[float | None]  # one per objective, DeepCAVE's "Time" last
    budget: float
    seed: int
    start_time: float
    end_time: float
    status: int
    origin: str | None
    additional: dict[str, Any]


@dataclass(frozen=True)
class LoadedRun:
    name: str
    configspace: ConfigurationSpace
    objectives: list[str]
    meta: dict[str, Any]
    configs: dict[int, dict[str, Any]]
    trials: list[LoadedTrial]


def deepcave_smac3v2_load(path: Path) -> LoadedRun:
    path = Path(path)
    # is_valid_run: both files must be there
    assert (path / "runhistory.json").is_file() and (path / "configspace.json").is_file()
    configspace = ConfigurationSpace.from_json(path / "configspace.json")
    scenario = json.loads((path / "scenario.json").read_text())
    objectives = scenario["objectives"]
    if not isinstance(objectives, list):
        objectives = [objectives]
    objectives = [*objectives, "Time"]  # DeepCAVE adds its own Time objective
    meta = dict(scenario)
    meta["run_objectives"] = meta.pop("objectives")
    meta["optimizer_seed"] = meta.pop("seed")

    history = json.loads((path / "runhistory.json").read_text())
    data, config_origins, configs = history["data"], history["config_origins"], history["configs"]
    if isinstance(data[0], dict):  # SMAC >= 2.0's records: read by position, in the first record's key order
        data = [[d[k] for k in data[0].keys()] for d in data]
    data = [d[:6] + [0.0] + d[6:] if len(d) == 10 else d for d in data]  # older files lack cpu_time

    instance_ids: list[Any] = []
    run_configs: dict[int, dict[str, Any]] = {}
    trials: dict[tuple[int, float, int], LoadedTrial] = {}  # Run.add: one trial per (config, budget, seed)
    for (config_id, instance_id, seed, budget, cost, time, cpu_time, status, starttime, endtime,
         additional_info) in data:
        if instance_id not in instance_ids:
            instance_ids.append(instance_id)
        if len(instance_ids) > 1:
            raise RuntimeError("Instances are not supported.")
        config = configs[str(config_id)]
        # first_starttime is never carried from one record to the next in the converter: each trial's times
        # are relative to its own start
        first_starttime = starttime
        starttime, endtime = starttime - first_starttime, endtime - first_starttime
        if status == 0:
            continue  # still running
        status = {1: SUCCESS, 3: TIMEOUT, 4: MEMORYOUT}.get(status, CRASHED)
        if status != SUCCESS:
            cost = [None] * len(cost) if isinstance(cost, list) else None
            time = None
        else:
            time = endtime - starttime
        budget = float(np.round(budget, 2)) if budget else 0.0
        cpu_time = cpu_time or 0.0
        origin = config_origins.get(str(config_id))
        costs = [*cost, time] if isinstance(cost, list) else [cost, time]
        # Run.add
        if len(costs) != len(objectives):
            raise RuntimeError("Number of costs does not match number of objectives.")
        Configuration(configspace, values=config)  # every configuration must be one of the space's
        if config not in run_configs.values():
            run_configs[len(run_configs)] = config
        own_id = next(i for i, c in run_configs.items() if c == config)
        trials[(own_id, budget, seed)] = LoadedTrial(own_id, config, costs, budget, seed,
                                                     float(np.round(starttime, 2)), float(np.round(endtime, 2)),
                                                     status, origin, additional_info)
    return LoadedRun(path.stem, configspace, objectives, meta, run_configs, list(trials.values()))


# --- runs ------------------------------------------------------------------------------------------------------------

def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, store_root) -> dict[str, Path]:
    """Real NB201 tabular runs: random search on two objectives, REA (repeats), SMAC."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NAS_EXP_DATA", str(store_root))
    root = tmp_path_factory.mktemp("deepcave")
    settings = {
        "random": ["optimizer=random", "objective=and_params", "budget.max_evaluations=25", "seed=3"],
        "rea": ["optimizer=rea", "budget.max_evaluations=60", "seed=1"],
        "smac": ["optimizer=smac", "optimizer.n_trees=2", "budget.max_evaluations=20", "seed=2"],
    }
    try:
        for name, overrides in settings.items():
            run_experiment(compose_run([*overrides, "progress=false"]), root / name)
    finally:
        mp.undo()
    return {name: root / name for name in settings}


def evaluations_made(run_dir: Path) -> list[TrajectoryRow]:
    """The trajectory's evaluations, a repeat (served from the run's cache) not counted again."""
    return [row for row in read_trajectory(run_dir / "trajectory.csv") if not row.repeat]


def arch_of(config: dict[str, Any]) -> str:
    space = NB201Space()
    return space.key(space.from_config(config))


def flat(lists) -> list[float]:
    return [value for values in lists for value in values]


def params_of(run_dir: Path) -> dict[str, float]:
    records = [json.loads(line) for line in (run_dir / EVALUATIONS_FILE).read_text().splitlines()]
    return {json.loads(r["key"])[0]: r["evaluation"]["metrics"]["params"] for r in records}


# --- tests -----------------------------------------------------------------------------------------------------------

def test_a_random_search_on_two_objectives_loads_with_both_objectives_and_the_simulated_clock(runs):
    run_dir = runs["random"]
    loaded = deepcave_smac3v2_load(export_folder(run_dir))
    rows = evaluations_made(run_dir)
    params = params_of(run_dir)
    assert loaded.objectives == ["error", "params", "Time"]
    assert loaded.meta["optimizer_seed"] == 3 and loaded.meta["nas_exp_loss"] == "100 - valid_acc"
    assert len(loaded.trials) == len(rows) == 25
    for trial, row in zip(loaded.trials, rows, strict=True):
        assert arch_of(trial.config) == row.arch
        assert trial.costs == pytest.approx([100.0 - row.value, params[row.arch], row.cost])
        assert (trial.budget, trial.seed, trial.status, trial.origin) == (0.0, 3, SUCCESS, "random")
        assert trial.additional["n"] == row.n and trial.additional["valid_acc"] == row.value
    # the file's own times are the simulated clock: each trial starts where the one before ended
    data = json.loads((export_folder(run_dir) / "runhistory.json").read_text())["data"]
    assert [d["starttime"] for d in data] == [0.0] + [d["endtime"] for d in data[:-1]]
    assert data[-1]["endtime"] == rows[-1].simulated_time
    assert not (run_dir / "smac3").exists()


def test_rea_loads_one_trial_per_evaluation_its_repeats_counted(runs):
    run_dir = runs["rea"]
    loaded = deepcave_smac3v2_load(export_folder(run_dir))
    every_row = read_trajectory(run_dir / "trajectory.csv")
    rows = evaluations_made(run_dir)
    assert len(every_row) == 60 and len(rows) < 60  # REA's mutations propose some cells again
    assert loaded.objectives == ["cost", "Time"]  # one objective: SMAC's name for it, as in SMAC's runs
    assert [arch_of(t.config) for t in loaded.trials] == [row.arch for row in rows]
    assert flat(t.costs for t in loaded.trials) == pytest.approx(flat((100.0 - r.value, r.cost) for r in rows))
    assert sum(t.additional["repeats"] for t in loaded.trials) == 60 - len(rows)
    assert len(loaded.configs) == len(rows) and loaded.trials[0].origin == "rea"


def test_smac_runs_keep_smac_s_own_run_history_and_read_alike(runs):
    run_dir = runs["smac"]
    found = deepcave_folder(run_dir)
    assert not found.exported and found.folder == run_dir / "smac3" / "smac" / "2"
    assert not (run_dir / "deepcave").exists()
    loaded = deepcave_smac3v2_load(found.folder)
    rows = evaluations_made(run_dir)
    assert loaded.objectives == ["cost", "Time"] and len(loaded.trials) == len(rows) == 20
    assert [arch_of(t.config) for t in loaded.trials] == [row.arch for row in rows]
    assert flat(t.costs for t in loaded.trials) == pytest.approx(flat((100.0 - r.value, r.cost) for r in rows))
    data = json.loads((found.folder / "runhistory.json").read_text())["data"]  # the simulated clock, as exported
    assert flat((d["starttime"], d["endtime"]) for d in data) == pytest.approx(
        flat((row.simulated_time - row.cost, row.simulated_time) for row in rows))


def test_smac_reads_an_exported_run_history_too(runs):
    folder = export_folder(runs["rea"])
    configspace = ConfigurationSpace.from_json(folder / "configspace.json")
    history = SMACRunHistory()
    history.load(folder / "runhistory.json", configspace)
    rows = evaluations_made(runs["rea"])
    assert len(history) == len(rows)
    assert sorted(history.get_cost(c) for c in history.get_configs()) == pytest.approx(
        sorted(100.0 - row.value for row in rows))


def test_the_command_exports_an_existing_run_folder_as_the_run_did(runs, tmp_path, store_root, monkeypatch, capsys):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    copy = tmp_path / "rea"
    shutil.copytree(runs["rea"], copy)
    shutil.rmtree(copy / "deepcave")
    (copy / "result.json").unlink()  # as a run killed before its end left it: metrics from the evaluator
    assert main([str(copy), str(runs["smac"])]) == 0
    out = capsys.readouterr().out
    assert f"{copy}: exported to {copy / 'deepcave' / 'rea'}" in out and "SMAC's own run history" in out
    for name in ("runhistory.json", "scenario.json", "configspace.json"):
        assert (copy / "deepcave" / "rea" / name).read_text() == (runs["rea"] / "deepcave" / "rea" / name).read_text()
    # a renamed run folder: DeepCAVE names the run after it, and the export under the old name goes
    renamed = copy.rename(tmp_path / "rea_seed1")
    assert main([str(renamed)]) == 0
    assert [p.name for p in (renamed / "deepcave").iterdir()] == ["rea_seed1"]
    assert deepcave_smac3v2_load(renamed / "deepcave" / "rea_seed1").name == "rea_seed1"


def test_bad_folders_are_one_line_each(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert main([str(tmp_path / "missing"), str(tmp_path / "empty"), str(tmp_path / "broken")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "no such folder" in lines[0] and "no config.json" in lines[1] and "cannot be read" in lines[2]


def test_an_interrupted_run_is_exported_and_its_resumed_run_covers_every_evaluation(tmp_path, store_root,
                                                                                    monkeypatch):
    from nas_exp.evaluation.tabular import TabularEvaluator

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    overrides = ["optimizer=local_search", "budget.max_evaluations=30", "seed=4", "progress=false"]
    run_dir = tmp_path / "run"
    evaluate = TabularEvaluator.evaluate
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 12:
            raise KeyboardInterrupt
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(TabularEvaluator, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(compose_run(overrides), run_dir)
    monkeypatch.setattr(TabularEvaluator, "evaluate", evaluate)
    assert len(deepcave_smac3v2_load(export_folder(run_dir)).trials) == len(evaluations_made(run_dir)) == 12
    run_experiment(compose_run([*overrides, "resume=true"]), run_dir)
    loaded, rows = deepcave_smac3v2_load(export_folder(run_dir)), evaluations_made(run_dir)
    assert len(read_trajectory(run_dir / "trajectory.csv")) == 30
    assert [arch_of(t.config) for t in loaded.trials] == [row.arch for row in rows]
    assert flat(t.costs for t in loaded.trials) == pytest.approx(flat((100.0 - r.value, r.cost) for r in rows))


def test_a_failed_export_is_one_warning_and_the_run_still_finishes(tmp_path, store_root, monkeypatch):
    import io

    from rich.console import Console

    import nas_exp.blackbox
    from nas_exp.deepcave.export import ExportError

    def failing(*args, **kwargs):
        raise ExportError("evaluations.jsonl has no record of evaluation 3")

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    monkeypatch.setattr(nas_exp.blackbox, "export_run", failing)
    out = io.StringIO()
    run_experiment(compose_run(["optimizer=random", "budget.max_evaluations=5", "progress=false"]), tmp_path / "run",
                   Console(file=out, width=400))
    assert (tmp_path / "run" / "result.json").is_file() and not (tmp_path / "run" / "deepcave").exists()
    assert "warning: no deepcave/ written: evaluations.jsonl has no record of evaluation 3; retry with python -m " \
           "nas_exp.deepcave" in out.getvalue()
