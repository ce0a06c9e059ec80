"""Everything `python -m nas_exp.analysis` writes for one sweep: tables (Markdown + LaTeX) and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nas_exp.analysis.anytime import (AXES, RegretProtocol, anytime_curves, incumbent_rows, regret_metric,
                                     regret_protocol)
from nas_exp.analysis.cross_task import CrossTask, CrossTaskError, comparable, cross_task, table_scales, task_of
from nas_exp.analysis.cross_task_figures import cross_task_figures, display_final
from nas_exp.analysis.figures import plot_anytime, plot_pareto, plot_search_curves
from nas_exp.analysis.grouping import grouped_runs
from nas_exp.analysis.one_shot_curves import is_one_shot_run, search_curves, table_dataset, table_source
from nas_exp.analysis.optimum import Benchmarks
from nas_exp.analysis.pareto import fronts_frame, non_dominated, table_front
from nas_exp.analysis.sweep import Run, load_runs, runs_frame
from nas_exp.analysis.latex import write_report_tex
from nas_exp.errors import UserError
from nas_exp.analysis.tables import (RESULT_LABELS, display_frame, results_table, to_latex, to_markdown,
                                     transfer_labels, transfer_table, transfer_values)


@dataclass
class Report:
    runs: pd.DataFrame  # one row per run
    results: pd.DataFrame  # results_table
    transfer: pd.DataFrame | None  # transfer_table; None without tabular runs
    written: list[Path] = field(default_factory=list)
    cross_task: CrossTask | None = None  # None: fewer than 2 comparable tasks (notes say why)
    notes: list[str] = field(default_factory=list)
    group_keys: list[str] = field(default_factory=list)  # keys the runs are grouped by beyond dataset, optimizer
    warnings: list[str] = field(default_factory=list)  # runs left out (unfinished), one line each kind


def write_table(shown: pd.DataFrame, out_dir: Path, stem: str, caption: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, latex = out_dir / f"{stem}.md", out_dir / f"{stem}.tex"
    markdown.write_text(f"{caption}\n\n{to_markdown(shown)}")
    latex.write_text(to_latex(shown, caption))
    return [markdown, latex]


def protocol_of(runs: list[Run], metric: str, benchmarks: Benchmarks) -> RegretProtocol | None:
    """What the regret of ``runs`` (one dataset) is measured on when they searched on another signal (the hp12
    protocol); None when every run searched on what it is judged by. Mixed protocols are named together."""
    found: dict[RegretProtocol, None] = {}
    for run in runs:
        if not ((run.result.get("config") or {}).get("evaluation") or {}).get("search_source"):
            continue
        dataset = run.info.report_on if metric == "test" else run.info.search_on
        try:
            bench = benchmarks.get(run.result.get("config") or {}, run.info.source, run.info.root)
            epochs = None if bench is None else int(bench.table(dataset).total_epochs)
        except (UserError, OSError):  # the table is gone: name the protocol without its length
            epochs = None
        protocol = regret_protocol(run, epochs)
        if protocol is not None:
            found[protocol] = None
    if not found:
        return None
    if len(found) < len(runs) and len(found) == 1 and any(
            not ((r.result.get("config") or {}).get("evaluation") or {}).get("search_source") for r in runs):
        only = next(iter(found))
        return RegretProtocol(only.measured, f"{only.searched} by some runs, the measured signal by others")
    return RegretProtocol(" / ".join(dict.fromkeys(p.measured for p in found)),
                          " / ".join(dict.fromkeys(p.searched for p in found)))


def anytime_figures(runs: list[Run], out_dir: Path, benchmarks: Benchmarks | None = None) -> list[Path]:
    """Per dataset, regret vs simulated time and vs evaluations (tabular runs with at least one evaluation and a
    known optimum, recorded in their result.json). Runs that searched on another signal (the hp12 protocol)
    get axes that say what the regret is measured on."""
    written: list[Path] = []
    datasets = sorted({run.info.dataset for run in runs})
    for dataset in datasets:
        chosen = [r for r in runs if r.info.dataset == dataset and r.tabular and r.metrics.optimum_value is not None
                  and len(incumbent_rows(r))]
        if not chosen:
            continue
        metric = regret_metric(chosen)
        spec = chosen[0].metrics.search if metric == "valid" else chosen[0].metrics.report_metric
        timed = any(run.result.get("simulated_time") for run in chosen)
        protocol = protocol_of(chosen, metric, benchmarks or Benchmarks())
        for axis in AXES if timed else ("evaluations",):
            written += plot_anytime(anytime_curves(chosen, metric, axis), axis, spec, chosen[0].info.space,
                                    dataset, out_dir, protocol)
    return written


def pareto_figures(runs: list[Run], benchmarks: Benchmarks, out_dir: Path) -> list[Path]:
    """Per (dataset, cost metric) of multi-objective runs: their fronts against the table's true front."""
    points = fronts_frame(runs)
    written: list[Path] = []
    sources = {run.info.dataset: run for run in runs}
    for (dataset, search_on, cost_metric), group in points.groupby(["dataset", "search_on", "cost_metric"]):
        group = group.reset_index(drop=True)
        maximize = bool(group["maximize"].iloc[0])
        fronts = {opt: rows.index[non_dominated(rows["value"].to_numpy(), rows["cost"].to_numpy(), maximize)]
                  for opt, rows in group.groupby("optimizer")}
        run = sources[dataset]
        bench = (benchmarks.get(run.result.get("config") or {}, run.info.source, run.info.root)
                 if run.tabular else None)
        reference = None if bench is None else table_front(bench, search_on, run.metrics.search.name, maximize,
                                                           cost_metric)
        written += plot_pareto(group, reference, dataset, cost_metric, str(group["metric"].iloc[0]), out_dir,
                               fronts)
    return written


def one_shot_figures(runs: list[Run], benchmarks: Benchmarks, out_dir: Path) -> list[Path]:
    """Per searched dataset (and table), the one-shot runs' search curves against the table's best cell (runs on
    a space without a table have no table curve: their incumbents are in the results table)."""
    written: list[Path] = []
    one_shot = [run for run in runs if is_one_shot_run(run) and run.result["one_shot"].get("table_dataset")]
    for key in sorted({(run.info.dataset, table_dataset(run), table_source(run)) for run in one_shot}):
        dataset, table, source = key
        chosen = [run for run in one_shot if (run.info.dataset, table_dataset(run), table_source(run)) == key]
        config = dict(chosen[0].result.get("config") or {})
        bench = benchmarks.get(config, source)
        if bench is None:
            continue
        optimum = bench.optimum(table, "valid_acc")[0]
        written += plot_search_curves(search_curves(chosen), table, optimum, dataset, out_dir)
    return written


def cross_task_outputs(runs: list[Run], benchmarks: Benchmarks,
                       out_dir: Path) -> tuple[CrossTask | None, list[Path], list[str]]:
    """Across tasks (tabular space/dataset pairs): average rank, normalised regret, ECDF, critical-difference
    diagram, the final normalised regret table and report.tex; skipped with one note on a single task."""
    tasks = {task_of(run) for run in runs if run.tabular}
    if len(tasks) < 2:
        return None, [], [f"cross-task outputs skipped: {len(tasks)} tabular task(s) in the sweep (need >= 2)"]
    try:
        result = cross_task(runs, table=table_scales([run for run in runs if comparable(run)], benchmarks))
    except CrossTaskError as err:
        return None, [], [f"cross-task outputs skipped: {err}"]
    notes = [f"cross-task: {len(result.tasks)} tasks x {len(result.optimizers)} optimizers, aligned on evaluations "
             f"1..{result.selection.n_common} (the runs' common minimum; longest {result.selection.n_longest})"]
    notes += [f"cross-task: left out {line}" for line in result.selection.dropped]
    fallback = sorted(task for task, kind in result.scale_kinds.items() if kind != "table median")
    if fallback:
        notes.append(f"cross-task: no table to normalise by for {', '.join(fallback)}: scale = worst observed regret")
    written = cross_task_figures(result, out_dir)
    written += write_table(display_final(result.final).T.reset_index(), out_dir,
                           "cross_task_final", f"Final normalised regret after {result.selection.n_common} "
                           "evaluations (mean ± standard error over seeds); 0 = table optimum, 1 = the table's median "
                           "configuration")
    ranks = result.ranks.iloc[-1].sort_values()
    ranks_frame = ranks.rename("average rank").round(3).rename_axis("optimizer").reset_index()
    ranks_frame.insert(1, "n_evaluations", result.selection.n_common)
    written += write_table(ranks_frame, out_dir, "cross_task_ranks",
                           "Average rank over tasks of the seed-mean final normalised regret (1 = best, ties averaged)")
    written.append(write_report_tex(result, out_dir))
    return result, written, notes


def make_report(sweep: Path, out_dir: Path, root: Path | None = None,
                group_by: list[str] | None = None) -> Report:
    """Read the sweep's finished runs, write every table and figure under ``out_dir``. ``root``: the NB201 store
    to look optima and transfers up in (default: each run's own ``evaluation.root``, else $NAS_EXP_DATA, else the default store).
    ``group_by``: config keys that split the runs beyond dataset and optimizer (default: every overridden key
    the runs differ in, but the seed; nas_exp/analysis/grouping.py). Unfinished runs are left out, with a
    warning in ``Report.warnings``."""
    warnings: list[str] = []
    runs, keys = grouped_runs(load_runs(sweep, warn=warnings.append), group_by)
    benchmarks = Benchmarks(root)
    frame = runs_frame(runs)
    results = results_table(frame, keys)
    written = write_table(display_frame(results, RESULT_LABELS), out_dir, "results",
                          "Final incumbent: search and report metric (mean ± std over seeds) and regret to the "
                          "table's optimum (mean ± standard error over seeds)")
    transfer = None
    spaces = sorted({run.info.space for run in runs})
    for space in spaces:  # one table per space: its benchmark's datasets are the columns
        values = transfer_values([run for run in runs if run.info.space == space], benchmarks)
        if values.empty:
            continue
        table = transfer_table(values, keys)
        transfer = table if transfer is None else pd.concat([transfer, table])
        stem = "transfer" if len(spaces) == 1 else f"transfer_{space}"
        written += write_table(display_frame(table, transfer_labels(table)), out_dir, stem,
                               f"Transfer ({space}): the architecture found on each searched dataset, looked up on "
                               "every dataset of its benchmark (seed-mean values), mean ± std over search seeds")
    written += anytime_figures(runs, out_dir, benchmarks)
    written += pareto_figures(runs, benchmarks, out_dir)
    written += one_shot_figures(runs, benchmarks, out_dir)
    comparison, cross_written, notes = cross_task_outputs(runs, benchmarks, out_dir)
    if keys:
        notes.insert(0, f"grouped by dataset, optimizer and {', '.join(keys)} (means over seeds within each)")
    return Report(runs=frame, results=results, transfer=transfer, written=written + cross_written,
                  cross_task=comparison, notes=notes, group_keys=keys, warnings=warnings)
