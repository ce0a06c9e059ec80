"""A black-box search run (the ask/tell loop) from a composed Hydra config: build the components, search, write
the run folder (trajectory.csv, evaluations.jsonl, config.json, result.json; deepcave/ for optimizers that write
no run history of their own)."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console

from nas_exp.components import Components, build, build_components, check_resume, versions
from nas_exp.deepcave.export import RunDescription, export_run
from nas_exp.errors import UserError
from nas_exp.evaluation.base import Evaluator, cost_kind
from nas_exp.parallel import ParallelSettings, evaluation_pool, parallel_settings
from nas_exp.interruption import INTERRUPTED, RunInterrupted
from nas_exp.resume import (EVALUATIONS_FILE, RESULT_FILE, TRAJECTORY_FILE, EvaluationLog, ReplayGuard, RowReplay,
                            plan_resume, recorded_config, recorded_first, write_run_config)
from nas_exp.run_metrics import RunMetrics
from nas_exp.run_log import log_only, say
from nas_exp.run_progress import (EpochWatch, announce, budget_used, duration, evaluation_line, run_progress,
                                  start_lines)
from nas_exp.runner import SearchResult, evaluate_serially, run_search
from nas_exp.simulated_workers import run_simulated_workers
from nas_exp.trajectory import Columns, TrajectoryRow, TrajectoryWriter, read_trajectory, write_json_atomic


def trajectory_columns(evaluator: Evaluator) -> Columns:
    """The trajectory's header for the evaluator's metrics (NB201: valid_acc / test_acc)."""
    report = evaluator.report_metric
    return Columns.of(evaluator.search_metric.name, None if report is None else report.name)


def metrics_record(evaluator: Evaluator) -> dict[str, Any]:
    """What result.json says about the run's metrics, so analysis needs no benchmark to read it: the search and
    report metrics (name, direction, unit), the trajectory's column names, and the table's optimum."""
    columns = trajectory_columns(evaluator)
    optimum = evaluator.optimum()
    return {
        "search": evaluator.search_metric.to_dict(),
        "report": None if evaluator.report_metric is None else evaluator.report_metric.to_dict(),
        "columns": {"search": columns.search, "report": columns.report},
        "optimum": None if optimum is None else optimum.to_dict(),
    }


def summarize(config: dict[str, Any], result: SearchResult, parts: Components, wall_time: float,
              optimizer_name: str | None = None) -> dict[str, Any]:
    last = result.incumbent
    evaluator = parts.evaluator
    metrics = metrics_record(evaluator)
    search, report = metrics["columns"]["search"], metrics["columns"]["report"]
    return {
        "optimizer": optimizer_name,
        "optimizer_settings": parts.optimizer.settings_used(),  # what the config leaves open (encoding=auto)
        "search_space": parts.space.name,
        "incumbent": None if last is None or last.incumbent_arch is None else {
            "arch": last.incumbent_arch,
            search: last.incumbent_value,
            report: last.incumbent_test,
            **({} if last.incumbent_hyperparameters is None
               else {"hyperparameters": json.loads(last.incumbent_hyperparameters)}),
        },
        "n_evaluations": len(result.rows),
        "n_repeats": result.n_repeats,
        "simulated_time": 0.0 if last is None else last.simulated_time,
        "wall_time": wall_time,
        "stop_reason": result.stop_reason,
        "cost_kind": cost_kind(evaluator),  # what simulated_time sums: simulated or measured seconds (None: no times)
        "evaluation": evaluator.description,
        "note": evaluator.missing_note,
        "metrics": metrics,
        "provenance": evaluator.provenance(),
        "config": config,
        "versions": versions(),
    }


def deepcave_description(parts: Components, columns: Columns) -> RunDescription:
    """What the DeepCAVE export needs to know of this run beside its files."""
    return RunDescription(space=parts.space, objective=parts.objective, columns=columns,
                          optimizer=parts.optimizer.name, seed=parts.seed, n_trials=parts.budget.max_evaluations)


def write_deepcave(run_dir: Path, parts: Components, columns: Columns, console: Console) -> None:
    """Export the run's deepcave/ folder. The run's own files are its record: a folder that cannot be exported
    costs one warning line, never the run's result."""
    try:
        export_run(run_dir, deepcave_description(parts, columns))
    except UserError as err:
        say(console, f"warning: no deepcave/ written: {err}; retry with python -m nas_exp.deepcave {run_dir}",
            logging.WARNING)


def check_simulated_workers(parallel: ParallelSettings, evaluator: Evaluator, resume: bool) -> None:
    """Simulated workers need a table's training times, and a run of seconds is restarted, not resumed."""
    if parallel.simulate_workers is None:
        return
    if evaluator.trains:
        raise UserError("parallel.simulate_workers simulates workers on a table; in train mode evaluations are "
                        "real: use parallel.n_workers (and parallel.backend=dask) to run them in parallel")
    if not evaluator.records_cost:
        raise UserError(f"parallel.simulate_workers needs training times, and {evaluator.description} records "
                        "none (every evaluation would finish at time 0); use parallel.n_workers instead")
    if resume:
        raise UserError("resume=true cannot continue a run with parallel.simulate_workers (it takes seconds): "
                        "start it again in a new folder")


def optimizer_config(cfg: DictConfig, run_dir: Path, resume: bool) -> DictConfig:
    """The config the components are built from: ``cfg``, but a resumed run's optimizer is built with the budget
    the run started with (config.json), so that its replay proposes what was recorded when the budget is extended
    (SMAC sizes its initial design by the trial count)."""
    recorded = recorded_config(run_dir) if resume and (run_dir / TRAJECTORY_FILE).is_file() else None
    if recorded is None or not isinstance(recorded.get("budget"), dict):
        return cfg
    built = cfg.copy()
    with open_dict(built):
        built.budget = OmegaConf.create(recorded["budget"])
    return built


def run_blackbox(cfg: DictConfig, run_dir: Path, console: Console) -> dict[str, Any]:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resume = check_resume(cfg.get("resume", False))
    if resume and (run_dir / RESULT_FILE).is_file():  # finished: nothing is built (SMAC would rewrite smac3/)
        finished = plan_resume(run_dir, resolved)
        if finished is not None and finished.finished is not None:
            announce(console, [f"[bold]run folder[/]: {run_dir}",
                               "resume: this run has finished already; nothing to do (a larger budget extends it)"])
            print_summary(finished.finished, run_dir, console)
            return finished.finished
    parallel = parallel_settings(cfg.get("parallel"))
    try:
        parts = build_components(optimizer_config(cfg, run_dir, resume), run_dir)
        parts = dataclasses.replace(parts, budget=build(cfg.budget))  # the budget asked now (larger: extended)
        check_simulated_workers(parallel, parts.evaluator, resume)
        parallel.check_budget(parts.budget.max_evaluations)
        columns = trajectory_columns(parts.evaluator)
        plan = plan_resume(run_dir, resolved, columns) if resume else None
    except BaseException:
        shutil.rmtree(run_dir / "smac3", ignore_errors=True)
        raise
    if plan is not None and plan.finished is not None:
        announce(console, [f"[bold]run folder[/]: {run_dir}",
                           "resume: this run has finished already; nothing to do (a larger budget extends it)"])
        print_summary(plan.finished, run_dir, console)
        return plan.finished
    budget, logger, metric = parts.budget, parts.logger, parts.evaluator.search_metric
    kind = cost_kind(parts.evaluator)
    announce(console, start_lines(run_dir, None if plan is None else plan.rows, budget, kind,
                                  extends=plan is not None and plan.extends is not None))
    progress = run_progress(bool(cfg.progress))
    replay = RowReplay([] if plan is None else plan.rows, run_dir)
    optimizer = parts.optimizer if plan is None else ReplayGuard(parts.optimizer, parts.space, parts.evaluator,
                                                                 plan.rows, run_dir)
    interrupted: RunInterrupted | None = None
    started = time.perf_counter()
    # the workers first: a scheduler that cannot be reached stops the run before any of its files is written
    with evaluation_pool(parallel, log_dir=run_dir / "dask-workers") as evaluate_many:
        if plan is None:
            write_run_config(run_dir, resolved)  # what a later resume=true must match
        else:
            (run_dir / RESULT_FILE).unlink(missing_ok=True)  # of an interrupted run or a smaller budget
        logger.start(resolved, str(run_dir), metrics_record(parts.evaluator))
        with (TrajectoryWriter(run_dir / TRAJECTORY_FILE, keep_rows=None if plan is None else len(plan.rows),
                               columns=columns.names) as writer,
              EvaluationLog(run_dir / EVALUATIONS_FILE, append=plan is not None) as evaluation_log, progress):
            task = progress.add_task(f"{cfg.optimizer._target_.rsplit('.', 1)[-1]} seed {parts.seed}", total=1.0,
                                     used=budget_used(budget, 0, 0.0, kind), info="")
            if getattr(parts.evaluator, "reports_epochs", False) and evaluate_many is evaluate_serially:
                watch = EpochWatch(progress, parts.evaluator)  # train mode, one cell at a time: its epochs
                parts.evaluator.epoch_listener = watch.listener  # type: ignore[attr-defined]
                evaluate_many = watch.evaluate_many(evaluate_many)

            def on_row(row: TrajectoryRow) -> None:
                new = replay.new_row(row)  # None: a resumed run's replayed row, checked against the file
                if new is not None:
                    writer.write(new)
                logger.log_evaluation(new or row)
                best = "-" if row.incumbent_value is None else format_value(row.incumbent_value, metric.unit)
                used = budget_used(budget, row.n, row.simulated_time, kind)
                progress.update(task, completed=budget.fraction_used(row.n, row.simulated_time), used=used,
                                info=f"best {metric.name} {best}")
                if new is not None:
                    log_only(evaluation_line(new, metric.name, format_value(new.value, metric.unit), best, used))

            evaluate = recorded_first(evaluate_many, {} if plan is None else plan.evaluations, evaluation_log)
            try:
                if parallel.simulate_workers is not None:
                    result = run_simulated_workers(parts.space, optimizer, parts.evaluator, budget, parts.seed,
                                                   parallel.simulate_workers, on_row=on_row,
                                                   evaluate_many=evaluate, objective=parts.objective)
                else:
                    result = run_search(parts.space, optimizer, parts.evaluator, budget, parts.seed, on_row=on_row,
                                        batch_size=parallel.n_workers, evaluate_many=evaluate,
                                        objective=parts.objective)
            except RunInterrupted as stop:  # the evaluation in progress is dropped; the rows so far are kept
                interrupted = stop
                result = SearchResult([], INTERRUPTED)
            finally:
                parts.optimizer.close()  # buffered optimizer state (SMAC's run history) written, atomically
                if not parts.optimizer.writes_run_history:  # the others' run history for DeepCAVE (deepcave/)
                    write_deepcave(run_dir, parts, columns, console)
    if interrupted is not None:  # what the run's record holds (rows recorded before a resume included)
        result = SearchResult(read_trajectory(run_dir / TRAJECTORY_FILE, columns), INTERRUPTED)
    wall_time = time.perf_counter() - started + replay.wall_shift
    summary = summarize(resolved, result, parts, wall_time, parts.optimizer.name)
    if parts.objective.multi_objective:
        summary["objectives"] = list(parts.objective.names)
        if interrupted is None:  # an interrupted run's front: by its resumed run
            summary["pareto_front"] = parts.objective.front(result.evaluations)  # type: ignore[attr-defined]
    if plan is not None:
        summary["resumed_after"] = len(plan.rows)
        if plan.extends is not None:
            summary["extended_from"] = plan.extends  # the budget the run was started with
    if interrupted is not None:
        summary["interrupted_by"] = interrupted.signal_name
    write_json_atomic(run_dir / RESULT_FILE, summary)
    logger.finish(summary)
    print_summary(summary, run_dir, console)
    if interrupted is not None:
        raise interrupted
    return summary


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.2f}%"
    return f"{value:.4g}{(' ' + unit) if unit else ''}"


def time_used(summary: dict[str, Any]) -> str:
    """The time the run's evaluations cost, by what their cost is (result.json's ``cost_kind``; runs written
    before it was recorded: simulated)."""
    kind = summary.get("cost_kind", "simulated")
    if kind is None:
        return "no training times"
    return f"training time {duration(summary['simulated_time'])} {kind}"


def print_summary(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    """The run's closing lines (on the console and in run.log)."""
    inc = summary["incumbent"]
    say(console, f"[bold]run folder[/]: {run_dir}")
    if inc is None:
        say(console, "no evaluation fitted in the budget")
        return
    metrics = RunMetrics.from_record(summary.get("metrics"))  # NB201's names for a run older than the record
    trained_with = "".join(f"  {name} {value:.3g}" for name, value in inc.get("hyperparameters", {}).items())
    shown = "  ".join(f"{column} {format_value(inc.get(column), metric.unit)}" for column, metric in (
        (metrics.columns.search, metrics.search), (metrics.columns.report, metrics.report_metric)))
    say(console, f"incumbent: {inc['arch']}{trained_with}  {shown}")
    say(console, f"{summary['n_evaluations']} evaluations ({summary['n_repeats']} repeats), {time_used(summary)}, "
                 f"wall {summary['wall_time']:.1f} s; {summary['stop_reason']}")
    if summary["note"]:
        say(console, f"note: {summary['note']}")
