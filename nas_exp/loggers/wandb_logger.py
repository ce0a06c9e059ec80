"""Mirror a run to Weights & Biases (``logger=wandb``): its config, every evaluation, the final summary.

Offline by default: W&B writes ``RUN_FOLDER/wandb/offline-run-*/`` and nothing goes over the network; upload later
with ``wandb sync``. The run folder's trajectory.csv and result.json stay the source of truth: any W&B failure
(not installed, init, log, finish) prints one warning on stderr and turns this logger off; the search goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas_exp.analysis.run_info import RunInfo, run_info
from nas_exp.errors import UserError
from nas_exp.run_metrics import RunMetrics
from nas_exp.trajectory import TrajectoryRow

MODES = ("offline", "online", "disabled")


def sweep_group(run_dir: Path) -> str | None:
    """``DATE_TIME`` of the Hydra sweep folder holding ``run_dir`` (it has multirun.yaml), else None."""
    sweep = Path(run_dir).resolve().parent
    if not (sweep / "multirun.yaml").is_file():
        return None
    return f"{sweep.parent.name}_{sweep.name}"


def run_config(config: dict[str, Any], info: RunInfo) -> dict[str, Any]:
    """W&B config: optimizer, dataset and seed as top-level keys (dashboards group and average by them), the
    searched/reported tables, and the whole resolved config under ``config``."""
    return {"optimizer": info.optimizer, "dataset": info.dataset, "seed": info.seed,
            "search_on": info.search_on, "report_on": info.report_on, "config": config}


def evaluation_metrics(row: TrajectoryRow, metrics_of_run: RunMetrics) -> dict[str, float]:
    """One history step, named as the trajectory's columns: the evaluation, the incumbent, and its regret to the
    table's optimum (``regret_valid`` / ``regret_test``), each where known."""
    search, report = metrics_of_run.columns.search, metrics_of_run.columns.report
    metrics: dict[str, float] = {search: row.value, "cost": row.cost, "simulated_time": row.simulated_time,
                                 "wall_time": row.wall_time, "repeat": int(row.repeat)}
    optional = {"epochs": row.epochs, report: row.test, f"incumbent_{search}": row.incumbent_value,
                f"incumbent_{report}": row.incumbent_test}  # None: multi-fidelity before the top fidelity, etc.
    metrics.update({key: value for key, value in optional.items() if value is not None})
    metrics.update(metrics_of_run.regret(row.incumbent_value, row.incumbent_test))
    return metrics


def final_summary(summary: dict[str, Any], metrics_of_run: RunMetrics) -> dict[str, Any]:
    """W&B run summary from the run's result.json payload."""
    incumbent = summary.get("incumbent") or {}
    search, report = metrics_of_run.columns.search, metrics_of_run.columns.report
    found: dict[str, Any] = {
        "incumbent_arch": incumbent.get("arch"),
        f"incumbent_{search}": incumbent.get(search),
        f"incumbent_{report}": incumbent.get(report),
        # joint search (search_space=nb201_hpo): what the incumbent was trained with, e.g. incumbent_learning_rate
        **{f"incumbent_{name}": value for name, value in (incumbent.get("hyperparameters") or {}).items()},
        **{key: summary.get(key) for key in ("n_evaluations", "n_repeats", "simulated_time", "wall_time",
                                             "stop_reason")},
    }
    found[f"optimum_{search}"] = metrics_of_run.optimum_value
    found[f"optimum_{report}"] = metrics_of_run.optimum_test
    if incumbent:
        found.update(metrics_of_run.regret(incumbent.get(search), incumbent.get(report)))
    return {key: value for key, value in found.items() if value is not None}


class WandbLogger:
    """See the module docstring. ``group=None``: the sweep folder's name for Hydra multirun jobs, no group for a
    single run; ``name=None``: the run folder's name; ``dir=None``: the run folder."""

    def __init__(self, project: str = "nas-exp", entity: str | None = None, mode: str = "offline",
                 dir: str | None = None, tags: Sequence[str] = (), group: str | None = None,
                 name: str | None = None, optimizer: str | None = None) -> None:
        if mode not in MODES:
            raise UserError(f"unknown logger.mode {mode!r}; valid: {', '.join(MODES)}")
        self.project, self.entity, self.mode, self.dir = project, entity, mode, dir
        self.tags, self.group, self.name, self.optimizer = list(tags), group, name, optimizer
        self.metrics = RunMetrics.from_record(None)
        self._run: Any = None
        self._off = False

    # -- the Logger protocol: never raises --------------------------------------------------------------------
    def start(self, config: dict[str, Any], run_dir: str, metrics: dict[str, Any] | None = None) -> None:
        self._guarded(self._start, config, Path(run_dir), metrics)

    def log_evaluation(self, row: TrajectoryRow) -> None:
        if self._run is not None:
            self._guarded(lambda: self._run.log(evaluation_metrics(row, self.metrics), step=row.n))

    def log_step(self, step: int, metrics: Mapping[str, float]) -> None:
        if self._run is not None:
            self._guarded(lambda: self._run.log(dict(metrics), step=step))

    def finish(self, summary: dict[str, Any]) -> None:
        if self._run is not None:
            self._guarded(self._finish, summary)

    # -- internals ---------------------------------------------------------------------------------------------
    def _start(self, config: dict[str, Any], run_dir: Path, metrics: dict[str, Any] | None) -> None:
        info = run_info(config, self.optimizer)
        self.metrics = RunMetrics.from_record(metrics)  # its optimum: None for train mode, so no regret
        import wandb

        self._run = wandb.init(
            project=self.project, entity=self.entity, mode=self.mode, dir=str(self.dir or run_dir),
            group=self.group or sweep_group(run_dir), name=self.name or run_dir.name, tags=self.tags,
            config=run_config(config, info), reinit="finish_previous",
            settings=wandb.Settings(console="off", quiet=True),
        )

    def _finish(self, summary: dict[str, Any]) -> None:
        run, self._run = self._run, None
        run.summary.update(final_summary(summary, self.metrics))
        run.finish()

    def _guarded(self, action, *args: Any) -> None:
        if self._off:
            return
        try:
            action(*args)
        except Exception as err:
            self._off = True
            print(f"warning: wandb logging failed and is off for this run ({type(err).__name__}: {err}); "
                  f"trajectory.csv and result.json are unaffected", file=sys.stderr)
            run, self._run = self._run, None
            if run is not None:
                try:
                    run.finish(exit_code=1)
                except Exception:
                    pass
