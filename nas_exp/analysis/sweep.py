"""Read a sweep (a Hydra multirun folder, or any folder holding run folders) into runs and tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dataclasses

import pandas as pd

from nas_exp.analysis.run_info import RunInfo, hydra_optimizer_choice, run_info
from nas_exp.run_metrics import RunMetrics
from nas_exp.errors import UserError
from nas_exp.sweep_summary import failure_line, read_result, run_overrides, run_status


class SweepError(UserError):
    """A sweep folder that cannot be analysed, in one line."""


@dataclass(frozen=True)
class Run:
    info: RunInfo
    run_dir: Path
    result: dict[str, Any]
    trajectory: pd.DataFrame = field(repr=False)
    overrides: dict[str, str] = field(default_factory=dict, repr=False)  # .hydra/overrides.yaml, key -> value
    group: tuple[tuple[str, Any], ...] = ()  # (key, value) of the keys it is grouped by beyond dataset, optimizer

    @property
    def label(self) -> str:
        """What tables and figures call its group: the optimizer, then ``key=value`` of the further keys."""
        return " ".join([self.info.optimizer, *(f"{key}={value}" for key, value in self.group)])

    @property
    def incumbent(self) -> dict[str, Any]:
        return self.result.get("incumbent") or {}

    @property
    def metrics(self) -> RunMetrics:
        """Its search/report metrics, column names and table optimum (NB201's for runs older than the record)."""
        return RunMetrics.from_record(self.result.get("metrics"))

    @property
    def tabular(self) -> bool:
        """Whether it looked its results up in a table (so regret to the table's optimum is defined)."""
        provenance = self.result.get("provenance")
        if provenance is not None:
            return "benchmark" in provenance
        return self.info.source is not None

    @property
    def incumbent_value(self) -> float | None:
        return self.incumbent.get(self.metrics.columns.search)

    @property
    def incumbent_test(self) -> float | None:
        return self.incumbent.get(self.metrics.columns.report)


def find_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder``: those with both trajectory.csv and result.json."""
    return sorted(p.parent for p in Path(folder).rglob("result.json") if (p.parent / "trajectory.csv").is_file())


def unfinished_runs(folder: Path) -> list[tuple[Path, str]]:
    """Run folders under ``folder`` that did not finish, with why: ``interrupted`` (result.json written on a
    signal), ``failed: ERROR`` (failed.json), ``no result.json`` (killed, queued or still running)."""
    candidates = {p.parent for p in Path(folder).rglob(".hydra") if p.is_dir()}
    candidates |= {p.parent for pattern in ("trajectory.csv", "result.json", "failed.json")
                   for p in Path(folder).rglob(pattern)}
    found = []
    for run_dir in sorted(candidates):
        status = run_status(run_dir, read_result(run_dir))
        if status == "failed":
            found.append((run_dir, f"failed: {failure_line(run_dir)}"))
        elif status == "interrupted":
            found.append((run_dir, "interrupted"))
        elif status == "unfinished" and not (run_dir / "result.json").exists():  # unreadable: load_run says so
            found.append((run_dir, "no result.json"))
    return found


def unfinished_warning(folder: Path, unfinished: list[tuple[Path, str]], n_finished: int,
                       shown: int = 10) -> str:
    """One line naming the unfinished runs that the means leave out."""
    names = [f"{run_dir.relative_to(folder) if run_dir.is_relative_to(folder) else run_dir} ({why})"
             for run_dir, why in unfinished]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (f"warning: {len(unfinished)} of {len(unfinished) + n_finished} runs did not finish and are left out "
            f"of every mean: {', '.join(names[:shown])}{more}")


def print_warning(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_run(run_dir: Path) -> Run:
    """One run folder. The optimizer's name: Hydra's choice (``.hydra/hydra.yaml``), else result.json's
    ``optimizer_name`` or ``optimizer``, else the config's ``optimizer_name`` or ``_target_`` class name."""
    run_dir = Path(run_dir)
    try:
        result = json.loads((run_dir / "result.json").read_text())
        config = result["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise SweepError(f"{run_dir / 'result.json'}: not a run result ({type(err).__name__}: {err})") from None
    named = result.get("optimizer_name") or result.get("optimizer")
    choice = hydra_optimizer_choice(run_dir) or (named if isinstance(named, str) else None)
    try:
        info = run_info(config, choice)
    except ValueError as err:
        raise SweepError(f"{run_dir / 'result.json'}: {err}") from None
    info = dataclasses.replace(info, space=str(result.get("search_space") or "nb201"))
    return Run(info=info, run_dir=run_dir, result=result, trajectory=pd.read_csv(run_dir / "trajectory.csv"),
               overrides=run_overrides(run_dir))


def load_runs(folder: Path, warn: Callable[[str], None] | None = print_warning) -> list[Run]:
    """The finished runs under ``folder``. Unfinished ones (:func:`unfinished_runs`) are left out, and ``warn``
    gets one line naming them (default: printed on stderr)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SweepError(f"no such folder: {folder}")
    unfinished = unfinished_runs(folder)
    left_out = {run_dir for run_dir, _ in unfinished}
    runs = [load_run(run_dir) for run_dir in find_runs(folder) if run_dir not in left_out]
    if not runs:
        why = f" ({len(unfinished)} unfinished: {unfinished_warning(folder, unfinished, 0).split(': ', 1)[1]})" \
            if unfinished else ""
        raise SweepError(f"no run folders (trajectory.csv + result.json) under {folder}{why}")
    if unfinished and warn is not None:
        warn(unfinished_warning(folder, unfinished, len(runs)))
    return runs


def final_regret(run: Run) -> dict[str, float]:
    """The final incumbent's regret to the table's optimum (``regret_valid`` on the search metric,
    ``regret_test`` on the report metric), each where known."""
    return run.metrics.regret(run.incumbent_value, run.incumbent_test)


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its identity, metric (with unit) and final incumbent with its regret. ``value`` and
    ``test`` hold the search and report metric of each run's own space (``metric`` / ``test_metric`` name
    them). Runs grouped by further keys (``Run.group``) have a column per key after ``optimizer``."""
    return pd.DataFrame([{
        "space": run.info.space, "optimizer": run.info.optimizer, **dict(run.group), "dataset": run.info.dataset,
        "seed": run.info.seed, "search_on": run.info.search_on, "report_on": run.info.report_on,
        "run_dir": str(run.run_dir), "n_evaluations": run.result.get("n_evaluations"),
        "simulated_time": run.result.get("simulated_time"), "arch": run.incumbent.get("arch"),
        "metric": run.metrics.search.label(), "test_metric": run.metrics.report_metric.label(),
        "value": run.incumbent_value, "test": run.incumbent_test,
        "regret": final_regret(run).get("regret_valid"), "regret_test": final_regret(run).get("regret_test"),
    } for run in runs])


def trajectories_frame(runs: list[Run]) -> pd.DataFrame:
    """Every run's trajectory rows, tagged with its optimizer, group keys, dataset and seed."""
    return pd.concat([run.trajectory.assign(optimizer=run.info.optimizer, **dict(run.group),
                                            dataset=run.info.dataset, seed=run.info.seed) for run in runs],
                     ignore_index=True)


def load_sweep(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, trajectories) of :func:`runs_frame` and :func:`trajectories_frame`."""
    runs = load_runs(folder)
    return runs_frame(runs), trajectories_frame(runs)
