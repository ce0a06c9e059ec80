"""A one-shot run from a composed Hydra config (``optimizer=darts|darts2|gdas|rsws|enas|spos``): load the searched
dataset as train mode does, train the supernet, write trajectory.csv (one row per search epoch) and result.json
(the black-box runs' keys plus ``rank_correlation`` and ``one_shot``). ``nas_exp.app.run_experiment`` hands a run
here when the optimizer config says ``kind: one_shot``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console

from nas_exp.components import ConfigError, build, check_seed, check_training, versions
from nas_exp.datasets.registry import load_dataset
from nas_exp.one_shot.base import OneShotOptimizer
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.rank_correlation import RankCorrelation, cell_rank_correlation
from nas_exp.one_shot.records import Cell, EpochRecord, SearchOutcome
from nas_exp.one_shot.table import CellTable
from nas_exp.one_shot.trajectory import OneShotRow, one_shot_trajectory_writer
from nas_exp.run_log import log_only, say
from nas_exp.run_progress import announce, start_lines
from nas_exp.runner import evaluation_rng
from nas_exp.search_spaces.base import CELL_DAG, TABULAR, SearchSpace
from nas_exp.search_spaces.supernet_layout import SupernetLayout
from nas_exp.training.device import resolve_device
from nas_exp.training.device_data import DeviceData
from nas_exp.torch_threads import set_torch_threads
from nas_exp.trajectory import write_json_atomic

ONE_SHOT_KIND = "one_shot"
META_KEYS = ("kind", "requires_training")  # read by the app, not passed to the optimizer
RANK_STREAM = 11  # the rank-correlation sample has its own generator: default_rng([seed, 11])


def is_one_shot(optimizer: DictConfig) -> bool:
    return optimizer.get("kind") == ONE_SHOT_KIND


def build_method(node: DictConfig, seed: int, layout: SupernetLayout) -> OneShotOptimizer:
    """The optimizer config (``_partial_: true``) called with the run's seed and the space's supernet layout; its
    own errors surface as is."""
    trimmed = node.copy()
    with open_dict(trimmed):
        for key in META_KEYS:
            trimmed.pop(key, None)
    try:
        method = instantiate(trimmed)(seed=seed, layout=layout)
    except InstantiationException as err:
        if isinstance(err.__cause__, ValueError):
            raise err.__cause__ from None
        raise
    except TypeError as err:  # a key the optimizer does not take
        raise ConfigError(f"optimizer {node.get('_target_')}: {err}") from None
    if not isinstance(method, OneShotOptimizer):
        raise ConfigError(f"optimizer {node.get('_target_')} has kind: one_shot but is not a one-shot optimizer")
    return method


def check_run_options(cfg: DictConfig) -> None:
    if cfg.get("resume", False):
        raise ConfigError("one-shot runs cannot be resumed (resume=true); start the search anew")
    parallel = cfg.get("parallel") or {}
    if parallel.get("n_workers", 1) != 1:
        raise ConfigError("one-shot runs train one supernet: parallel.n_workers must be 1")


def run_one_shot(cfg: DictConfig, run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = check_seed(cfg.seed)
    check_training(cfg)
    check_run_options(cfg)
    space = build(cfg.search_space)
    space.require(CELL_DAG, f"carry a one-shot supernet (optimizer={cfg.optimizer.get('_target_', '?').rsplit('.', 1)[-1]})")
    method = build_method(cfg.optimizer, seed, space.supernet_layout())
    s = method.settings
    if s.retrain_top_k > 0 and not method.ranks_candidates:
        raise ConfigError(f"optimizer.retrain_top_k applies to optimizers that rank candidates (rsws, enas, spos), "
                          f"not {method.name}; use optimizer.train_final=true to train its final cell")
    evaluation = cfg.evaluation
    set_torch_threads(evaluation.get("threads"))
    device = resolve_device(str(evaluation.get("device", "auto")))
    table = None
    if TABULAR in space.capabilities:
        table = CellTable.create(space, space.tabular_benchmark(s.table_source), s.table_dataset,
                                 cfg.dataset.search_on, cfg.dataset.report_on)
    dataset = load_dataset(cfg.dataset.search_on, evaluation.get("data_root"))
    batches = SearchBatches(DeviceData.from_dataset(dataset, device), s.batch_size, seed,
                            eval_batch_size=s.eval_batch_size, augment=s.augment, steps_per_epoch=s.steps_per_epoch)
    evaluator = None
    if s.train_final or (s.retrain_top_k > 0 and method.ranks_candidates):
        evaluator = build(evaluation, space=space, search_on=cfg.dataset.search_on, report_on=cfg.dataset.report_on)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    announce(console, start_lines(run_dir, None))  # one-shot runs cannot be resumed: always a new run
    logger = instantiate(cfg.logger)
    logger.start(resolved, str(run_dir), None)
    trained: list[dict[str, Any]] = []

    def train_standalone(arch: Cell, role: str) -> float:
        result = evaluator.evaluate(arch, evaluation_rng(seed, len(trained) + 1))  # type: ignore[union-attr]
        trained.append({"arch": space.key(arch), "role": role, "valid_acc": result.value,
                        "test_acc": result.test, "cost": result.cost, "epochs": result.epochs})
        return result.value

    progress = Console(stderr=True)
    started = time.perf_counter()
    with one_shot_trajectory_writer(run_dir / "trajectory.csv") as writer:
        def on_epoch(record: EpochRecord) -> None:
            row = to_row(record, space.key(record.arch), None if table is None else table.valid_acc(record.arch))
            writer.write(row)
            logger.log_step(row.epoch, epoch_metrics(row))
            if cfg.progress:
                say(progress, progress_line(method.name, row, s.epochs))
            else:
                log_only(progress_line(method.name, row, s.epochs))

        retrain = (lambda arch: train_standalone(arch, "top_k")) if evaluator is not None else None
        outcome = method.search(batches, on_epoch, retrain)
    rank = (cell_rank_correlation(
        method.layout.distinct_cells(s.n_rank_cells, np.random.default_rng([seed, RANK_STREAM])),
        method.scorer(batches, s.eval_batches), table.valid_acc, space.key) if table is not None
        else RankCorrelation(None, None, 0))
    if s.train_final:
        train_standalone(outcome.arch, "final")
    summary = summarize(method, space, outcome, table, rank.to_dict(), trained, resolved, dataset.name,
                        time.perf_counter() - started, dataset.note, device.type)
    write_json_atomic(run_dir / "result.json", summary)
    logger.finish(summary)
    print_one_shot_summary(summary, run_dir, console)
    return summary


def to_row(record: EpochRecord, key: str, table_valid_acc: float | None) -> OneShotRow:
    return OneShotRow(epoch=record.epoch, arch=key, table_valid_acc=table_valid_acc,
                      oneshot_valid_acc=record.oneshot_valid_acc, train_loss=record.train_loss,
                      wall_time=record.wall_time, hessian_eigenvalue=record.hessian_eigenvalue)


def epoch_metrics(row: OneShotRow) -> dict[str, float]:
    """One search epoch as a logger step (W&B history), named as the trajectory's columns; unknowns left out."""
    found = {"epoch": row.epoch, "oneshot_valid_acc": row.oneshot_valid_acc, "train_loss": row.train_loss,
             "wall_time": row.wall_time, "table_valid_acc": row.table_valid_acc,
             "hessian_eigenvalue": row.hessian_eigenvalue}
    return {key: float(value) for key, value in found.items() if value is not None}


def progress_line(name: str, row: OneShotRow, epochs: int) -> str:
    table = "n/a" if row.table_valid_acc is None else f"{row.table_valid_acc:.2f}%"
    return (f"{name} epoch {row.epoch}/{epochs}: loss {row.train_loss:.3f}  one-shot valid "
            f"{row.oneshot_valid_acc:.2f}%  table {table}  {row.arch}")


def summarize(method: OneShotOptimizer, space: SearchSpace, outcome: SearchOutcome, table: CellTable | None,
              rank: dict[str, Any], trained: list[dict[str, Any]], config: Any, dataset: str, wall_time: float,
              data_note: str, device: str) -> dict[str, Any]:
    """result.json of a one-shot run. The incumbent's accuracies are the table's where the space has one, else
    the final cell's stand-alone training's (``optimizer.train_final``), else None."""
    s = method.settings
    final = outcome.records[-1]
    notes = [f"{dataset} {data_note}"] if data_note else []
    final_trained = next((t for t in trained if t["role"] == "final"), None)
    if table is not None:
        if table.valid_dataset != dataset:
            notes.append(f"table accuracies are {table.benchmark.name.upper()}'s {table.valid_dataset} numbers (the "
                         f"supernet trained on {dataset})")
        incumbent = {"valid_acc": table.valid_acc(outcome.arch), "test_acc": table.test_acc(outcome.arch)}
        scored_by = (f"cells scored by the {table.benchmark.source} {table.benchmark.name.upper()} table (valid: "
                     f"{table.valid_dataset}, test: {table.test_dataset})")
    else:
        incumbent = ({"valid_acc": final_trained["valid_acc"], "test_acc": final_trained["test_acc"]}
                     if final_trained else {"valid_acc": None, "test_acc": None})
        scored_by = (f"search_space={space.name} has no table: the final cell's accuracies are its stand-alone "
                     f"training's" if final_trained else
                     f"search_space={space.name} has no table and the final cell was not trained "
                     f"(optimizer.train_final=true trains it)")
    return {
        "optimizer": method.name,
        "incumbent": {"arch": space.key(outcome.arch), **incumbent},
        "n_evaluations": outcome.epochs,
        "n_repeats": 0,
        "simulated_time": 0.0,
        "wall_time": wall_time,
        "stop_reason": outcome.stop_reason,
        "evaluation": (f"one-shot {method.name}: supernet C={s.C} N={s.N} trained on {dataset} (weights on its "
                       f"train split, architecture on its valid split) on {device}; {scored_by}"),
        "note": "; ".join(notes),
        "rank_correlation": {**rank, "table_dataset": None if table is None else table.valid_dataset,
                             "bn_mode": s.bn_mode},
        "one_shot": {
            "oneshot_valid_acc": final.oneshot_valid_acc,
            "table_dataset": None if table is None else table.valid_dataset,
            "final_cell_table": {} if table is None else table.every_dataset(outcome.arch),
            "search_seconds": sum(r.train_seconds for r in outcome.records),
            "candidates": [{"arch": space.key(c.arch), "oneshot_valid_acc": c.oneshot_valid_acc,
                            "retrained_valid_acc": c.retrained_valid_acc} for c in outcome.candidates[:20]],
            "standalone": trained,
        },
        "config": config,
        "versions": versions(),
    }


def print_one_shot_summary(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    inc, rank = summary["incumbent"], summary["rank_correlation"]
    valid = "n/a" if inc["valid_acc"] is None else f"{inc['valid_acc']:.2f}%"
    say(console, f"[bold]run folder[/]: {run_dir}")
    source = "stand-alone" if rank["table_dataset"] is None else f"table valid ({rank['table_dataset']})"
    say(console, f"final cell: {inc['arch']}  {source} {valid}  one-shot valid "
                 f"{summary['one_shot']['oneshot_valid_acc']:.2f}%")
    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}%"

    tables = summary["one_shot"]["final_cell_table"]
    if tables:
        say(console, "final cell in the table (valid / test): " + "; ".join(
            f"{dataset} {percent(acc['valid_acc'])} / {percent(acc['test_acc'])}" for dataset, acc in tables.items()))
    tau = "n/a" if rank["kendall_tau"] is None else f"{rank['kendall_tau']:.3f}"
    rho = "n/a" if rank["spearman_rho"] is None else f"{rank['spearman_rho']:.3f}"
    say(console, f"{summary['n_evaluations']} search epochs, wall {summary['wall_time']:.1f} s; "
                 f"{summary['stop_reason']}; rank correlation over {rank['n_cells']} cells: Kendall tau {tau}, "
                 f"Spearman {rho}")
    if summary["note"]:
        say(console, f"note: {summary['note']}")
