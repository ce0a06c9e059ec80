"""Comparing optimizers across tasks, as benchmark suites do (HPOBench, HPO-B, CARP-S, Syne Tune): per-task
normalised regret, average rank over evaluations, ECDF of final regret and a Friedman test with Nemenyi post-hoc.

A *task* is one tabular (search space, dataset[, objective]) of a sweep's runs. Definitions (docs/analysis.md):

* **regret** of a run after n evaluations: the table's optimum of the search metric (``result.json`` "metrics"
  "optimum" "value") minus the incumbent's value for a maximised metric, the other way round for a minimised one.
* **normalised regret**: regret divided by the task's *scale*, the regret of the table's median configuration
  (optimum minus the median over all configurations of the table: the median of random configurations, exact
  because the table is finite). 0: the table's optimum; 1: as good as the median random configuration (values
  above 1 are worse than it). Where a table cannot be opened, the scale falls back to the regret of the worst
  configuration evaluated by any run on that task (min-max normalisation on observed values, as CARP-S does), and
  the outputs say so. Min-max over the whole table (HPO-B) would squash FCNet: its diverged trainings put the worst
  valid MSE at 488 (protein_structure) and 7028 (naval_propulsion) against medians of 0.40 and 0.14.
* the **axis** is the number of evaluations, 1 .. the common minimum budget of all runs (every run has a value at
  every point; simulated time is not comparable across tasks). Repeated proposals count as evaluations.
* **average rank** at n: per task, rank the optimizers' seed-mean normalised regret (1 = lowest, ties get the
  average rank), then average over tasks.
* **aggregate normalised regret** at n: per seed index, the mean over tasks; then mean and standard error over the
  seed indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nas_exp.analysis.anytime import incumbent_rows, regret, step_values
from nas_exp.analysis.sweep import Run
from nas_exp.errors import UserError

SEARCH_METRIC = "nas_exp.objectives.search_metric.SearchMetric"


class CrossTaskError(UserError):
    """Runs that cannot be compared across tasks, in one line."""


@dataclass(frozen=True)
class TaskRun:
    """One run's incumbent regret on the shared evaluation grid."""
    task: str
    optimizer: str
    seed: int
    regret: np.ndarray  # regret after 1..n_common evaluations, in the metric's unit
    worst: float  # regret of the worst configuration this run evaluated


@dataclass(frozen=True)
class Selection:
    runs: list[Run]
    n_common: int  # evaluations every chosen run has made (the grid's end)
    n_longest: int  # the longest chosen run's evaluations
    dropped: list[str]  # one line per excluded group of runs, with why


@dataclass(frozen=True)
class Friedman:
    statistic: float  # chi-square, tie-corrected (as scipy.stats.friedmanchisquare)
    pvalue: float
    n_tasks: int
    n_optimizers: int
    mean_ranks: pd.Series  # per optimizer, 1 = best
    critical_difference: float  # Nemenyi's at alpha
    alpha: float


def task_of(run: Run) -> str:
    """``space/dataset``, with ``/objective`` for a run not optimising the plain search metric."""
    objective = ((run.result.get("config") or {}).get("objective") or {}).get("_target_", SEARCH_METRIC)
    task = f"{run.info.space}/{run.info.dataset}"
    return task if objective == SEARCH_METRIC else f"{task}/{str(objective).rsplit('.', 1)[-1]}"


def comparable(run: Run) -> bool:
    """A single-objective tabular run with a recorded optimum and at least one incumbent."""
    return bool(run.tabular and run.metrics.optimum_value is not None and len(incumbent_rows(run))
                and task_of(run).count("/") == 1)


def select(runs: list[Run]) -> Selection:
    """The comparable runs of optimizers that ran on every task (a rank needs every optimizer on every task),
    and the common evaluation budget."""
    dropped = []
    chosen = [run for run in runs if comparable(run)]
    if len(chosen) < len(runs):
        dropped.append(f"{len(runs) - len(chosen)} runs not single-objective tabular with a known optimum")
    tasks = sorted({task_of(run) for run in chosen})
    full = {opt for opt in {run.label for run in chosen}
            if {task_of(run) for run in chosen if run.label == opt} == set(tasks)}
    for opt in sorted({run.label for run in chosen} - full):
        dropped.append(f"optimizer {opt}: not run on every task")
    chosen = [run for run in chosen if run.label in full]
    if not chosen:
        return Selection([], 0, 0, dropped)
    ends = [int(incumbent_rows(run)["n"].iloc[-1]) for run in chosen]
    return Selection(chosen, min(ends), max(ends), dropped)


def task_runs(selection: Selection) -> list[TaskRun]:
    """Each run's regret after 1..n_common evaluations (NaN before its first incumbent) and its worst regret."""
    grid = np.arange(1, selection.n_common + 1)
    out = []
    for run in selection.runs:
        rows = incumbent_rows(run)
        spec = run.metrics.search
        values = run.trajectory[run.metrics.columns.search].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        best = run.metrics.optimum_value
        worst = float(np.max(best - values if spec.maximize else values - best)) if values.size else np.nan
        out.append(TaskRun(task=task_of(run), optimizer=run.label, seed=run.info.seed,
                           regret=step_values(rows["n"].to_numpy(dtype=float), regret(run, "valid"), grid),
                           worst=worst))
    return out


def curves_frame(runs: list[TaskRun]) -> pd.DataFrame:
    """Long frame: task, optimizer, seed, n (evaluations), regret."""
    frames = [pd.DataFrame({"task": r.task, "optimizer": r.optimizer, "seed": r.seed,
                            "n": np.arange(1, len(r.regret) + 1), "regret": r.regret}) for r in runs]
    if not frames:
        raise CrossTaskError("no runs to compare across tasks")
    return pd.concat(frames, ignore_index=True)


def observed_scales(runs: list[TaskRun]) -> pd.Series:
    """Per task, the regret of the worst configuration any run evaluated (the fallback scale)."""
    worst = pd.DataFrame({"task": [r.task for r in runs], "worst": [r.worst for r in runs]})
    return worst.groupby("task")["worst"].max().rename("scale")


def normalise(curves: pd.DataFrame, scales: pd.Series) -> pd.DataFrame:
    """``curves`` with ``norm_regret`` = regret / the task's scale. A task whose scale is not positive (every
    evaluated configuration optimal) cannot be normalised."""
    missing = sorted(set(curves["task"]) - set(scales.index))
    if missing:
        raise CrossTaskError(f"no normalisation scale for task(s) {', '.join(missing)}")
    bad = scales[~(scales > 0)]
    if len(bad):
        raise CrossTaskError(f"task {bad.index[0]}: every evaluated configuration has regret {bad.iloc[0]} "
                             "(nothing to normalise by)")
    return curves.assign(norm_regret=curves["regret"] / curves["task"].map(scales))


def task_means(curves: pd.DataFrame, column: str = "norm_regret") -> pd.DataFrame:
    """Seed-mean of ``column`` per (task, optimizer, n): index (task, n), one column per optimizer."""
    return curves.groupby(["task", "n", "optimizer"])[column].mean().unstack("optimizer")


def ranks_over_time(curves: pd.DataFrame, column: str = "norm_regret") -> pd.DataFrame:
    """Average rank per optimizer after each evaluation count: per (task, n) the optimizers' seed-mean ``column``
    ranked ascending (1 = lowest regret, ties averaged), then averaged over tasks. Index n, one column per
    optimizer. Rank is scale-free, so ``regret`` and ``norm_regret`` give the same ranks."""
    ranks = task_means(curves, column).rank(axis=1, method="average", ascending=True)
    return ranks.groupby(level="n").mean()


def mean_stderr_frame(values: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error (sample std / sqrt(count); 0 for one row) of each column over the rows."""
    count = values.count()
    stderr = (values.std(ddof=1) / np.sqrt(count)).where(count > 1, 0.0)
    return pd.DataFrame({"mean": values.mean(), "stderr": stderr, "n": count})


def aggregate_regret(curves: pd.DataFrame) -> pd.DataFrame:
    """Normalised regret aggregated over tasks: per (optimizer, seed index, n) the mean over tasks, then mean and
    standard error over seed indices. Columns optimizer, n, mean, stderr, n_seeds."""
    per_seed = curves.groupby(["optimizer", "n", "seed"])["norm_regret"].mean()
    grouped = per_seed.groupby(level=["optimizer", "n"])
    count = grouped.count()
    out = pd.DataFrame({"mean": grouped.mean(), "stderr": (grouped.std(ddof=1) / np.sqrt(count)).where(count > 1, 0.0),
                        "n_seeds": count})
    return out.reset_index()


def final_values(curves: pd.DataFrame) -> pd.DataFrame:
    """The rows at the grid's last evaluation count (one per run)."""
    return curves[curves["n"] == curves["n"].max()].reset_index(drop=True)


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Final normalised regret per (optimizer, task): mean, standard error over seeds, seeds; plus an ``all
    tasks`` row per optimizer (per seed index the mean over tasks, then mean ± s.e. over seed indices)."""
    final = final_values(curves)
    grouped = final.groupby(["optimizer", "task"])["norm_regret"]
    count = grouped.count()
    stderr = (grouped.std(ddof=1) / np.sqrt(count)).where(count > 1, 0.0)
    table = pd.DataFrame({"mean": grouped.mean(), "stderr": stderr, "n_seeds": count})
    overall = aggregate_regret(final).set_index("optimizer")[["mean", "stderr", "n_seeds"]]
    overall.index = pd.MultiIndex.from_arrays([overall.index, ["all tasks"] * len(overall)],
                                              names=["optimizer", "task"])
    return pd.concat([table, overall]).sort_index()


def ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF: sorted values and the fraction of values <= each (NaN dropped)."""
    values = np.sort(np.asarray(values, dtype=float)[~np.isnan(values)])
    if values.size == 0:
        raise CrossTaskError("ECDF of no values")
    return values, np.arange(1, values.size + 1) / values.size


def ecdf_frame(curves: pd.DataFrame) -> pd.DataFrame:
    """Per optimizer the ECDF of the final normalised regret of all its task x seed runs: optimizer, value, fraction."""
    final = final_values(curves)
    parts = []
    for optimizer, group in final.groupby("optimizer"):
        x, y = ecdf(group["norm_regret"].to_numpy())
        parts.append(pd.DataFrame({"optimizer": optimizer, "value": x, "fraction": y}))
    return pd.concat(parts, ignore_index=True)


def nemenyi_cd(n_optimizers: int, n_tasks: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks (Demsar 2006): q_alpha sqrt(k (k+1) / (6 N)), q_alpha the
    studentized range quantile over sqrt 2."""
    k = n_optimizers
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n_tasks)))


def friedman(matrix: pd.DataFrame, alpha: float = 0.05) -> Friedman:
    """Friedman test over a tasks x optimizers matrix of a lower-is-better score: ranks per task (ties averaged),
    chi-square with the tie correction (equal to scipy.stats.friedmanchisquare), and Nemenyi's critical
    difference."""
    if matrix.isna().any().any():
        raise CrossTaskError("Friedman test needs every optimizer's score on every task (found a missing one)")
    n, k = matrix.shape
    if n < 2 or k < 3:
        raise CrossTaskError(f"Friedman test needs >= 2 tasks and >= 3 optimizers (have {n} and {k})")
    ranks = matrix.rank(axis=1, method="average", ascending=True)
    rank_sums = ranks.sum(axis=0).to_numpy()
    statistic = 12.0 / (n * k * (k + 1)) * np.sum(rank_sums ** 2) - 3.0 * n * (k + 1)
    ties = sum(np.sum(counts ** 3 - counts) for counts in
               (np.unique(row, return_counts=True)[1].astype(float) for row in ranks.to_numpy()))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    statistic = statistic / correction if correction > 0 else 0.0
    pvalue = float(stats.chi2.sf(statistic, k - 1)) if correction > 0 else 1.0
    return Friedman(statistic=float(statistic), pvalue=pvalue, n_tasks=n, n_optimizers=k,
                    mean_ranks=ranks.mean(axis=0).sort_values(), critical_difference=nemenyi_cd(k, n, alpha),
                    alpha=alpha)


def cliques(mean_ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of optimizers (sorted by mean rank) whose mean ranks differ by less than ``cd`` (not
    significantly different under Nemenyi); groups of one are left out."""
    names, values = list(mean_ranks.index), mean_ranks.to_numpy()
    groups: list[list[str]] = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(set(names[i:j + 1]) <= set(g) for g in groups):
            groups.append(names[i:j + 1])
    return groups


@dataclass(frozen=True)
class AutorankSummary:
    omnibus: str  # friedman | anova | ...
    posthoc: str  # nemenyi | tukeyhsd | ...
    pvalue: float
    all_normal: bool
    homoscedastic: bool
    critical_difference: float | None
    mean_ranks: pd.Series
    why: str  # one sentence: why autorank chose these tests


def autorank_summary(matrix: pd.DataFrame, alpha: float = 0.05) -> tuple[AutorankSummary | None, str | None]:
    """autorank (pyproject extra ``analysis``) on a tasks x optimizers lower-is-better matrix, or (None, why not)
    when it is not installed or refuses the matrix (it needs >= 5 tasks). It tests normality (Shapiro-Wilk) and
    homoscedasticity (Bartlett / Levene) and chooses
    repeated-measures ANOVA + Tukey HSD when both hold, else Friedman + Nemenyi."""
    try:
        from autorank import autorank
    except ImportError:
        return None, "autorank is not installed (pyproject extra analysis)"
    import contextlib
    import io
    import warnings
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # it prints its rank frame
        warnings.simplefilter("ignore")
        try:
            result = autorank(matrix.reset_index(drop=True), alpha=alpha, verbose=False, order="ascending")
        except ValueError as err:
            return None, f"autorank refused the {len(matrix)} tasks x {len(matrix.columns)} optimizers matrix: {err}"
    if result.omnibus == "friedman":
        why = ("not all populations are normal (Shapiro-Wilk)" if not result.all_normal
               else "the populations are normal but not homoscedastic")
    elif result.omnibus == "anova":
        why = "all populations are normal (Shapiro-Wilk) and homoscedastic (Bartlett)"
    else:
        why = f"{len(matrix.columns)} populations"
    rankdf = result.rankdf
    column = "meanrank" if "meanrank" in rankdf else rankdf.columns[0]
    return AutorankSummary(omnibus=str(result.omnibus), posthoc=str(result.posthoc), pvalue=float(result.pvalue),
                           all_normal=bool(result.all_normal), homoscedastic=bool(result.homoscedastic),
                           critical_difference=None if result.cd is None else float(result.cd),
                           mean_ranks=rankdf[column].astype(float), why=why), None


def median_regret(values: np.ndarray, optimum: float, maximize: bool) -> float:
    """Regret of the median configuration of a table column (NaN rows, e.g. non-canonical cells, ignored)."""
    median = float(np.nanmedian(np.asarray(values, dtype=float)))
    return optimum - median if maximize else median - optimum


def table_scales(runs: list[Run], benchmarks: Any) -> dict[str, float]:
    """Per task, :func:`median_regret` of its table's search metric (``benchmarks``: an
    :class:`nas_exp.analysis.optimum.Benchmarks`); tasks whose table cannot be opened are left out."""
    scales: dict[str, float] = {}
    for run in runs:
        task = task_of(run)
        if task in scales:
            continue
        try:
            bench = benchmarks.get(run.result.get("config") or {}, run.info.source, run.info.root)
            values = bench.metric_array(run.info.search_on, run.metrics.search.name, run.info.epoch)
        except (UserError, OSError, ValueError, KeyError, AttributeError, TypeError):
            continue
        scales[task] = median_regret(values, float(run.metrics.optimum_value), run.metrics.search.maximize)
    return scales


def choose_scales(runs: list[TaskRun], table: Mapping[str, float]) -> tuple[pd.Series, dict[str, str]]:
    """The table's median regret per task where known, else the worst observed; and which was used per task."""
    observed = observed_scales(runs)
    scales = pd.Series({task: table.get(task, observed[task]) for task in observed.index}, name="scale")
    kinds = {task: "table median" if task in table else "worst observed" for task in observed.index}
    return scales, kinds


@dataclass
class CrossTask:
    """Everything the cross-task figures, tables and report are drawn from."""
    selection: Selection
    curves: pd.DataFrame  # task, optimizer, seed, n, regret, norm_regret
    scales: pd.Series  # per task: the normalisation's denominator, in the metric's unit
    scale_kinds: dict[str, str]  # per task: "table median" or "worst observed"
    ranks: pd.DataFrame  # ranks_over_time
    aggregate: pd.DataFrame  # aggregate_regret
    final: pd.DataFrame  # final_table
    ecdf: pd.DataFrame  # ecdf_frame
    matrix: pd.DataFrame  # tasks x optimizers: seed-mean final normalised regret
    friedman: Friedman | None
    autorank: AutorankSummary | None
    autorank_note: str | None  # why autorank did not run

    @property
    def tasks(self) -> list[str]:
        return sorted(self.curves["task"].unique())

    @property
    def optimizers(self) -> list[str]:
        return sorted(self.curves["optimizer"].unique())

    @property
    def n_seeds(self) -> tuple[int, int]:
        """The fewest and most seeds of one (task, optimizer)."""
        counts = final_values(self.curves).groupby(["task", "optimizer"])["seed"].nunique()
        return int(counts.min()), int(counts.max())


def cross_task(runs: list[Run], alpha: float = 0.05, table: Mapping[str, float] | None = None) -> CrossTask:
    """The cross-task comparison of ``runs``; needs >= 2 tasks and >= 2 optimizers on all of them. ``table``: per
    task the table's median regret (:func:`table_scales`); tasks without one use the worst observed regret."""
    selection = select(runs)
    tasks = {task_of(run) for run in selection.runs}
    optimizers = {run.label for run in selection.runs}
    if len(tasks) < 2 or len(optimizers) < 2:
        raise CrossTaskError(f"{len(tasks)} task(s) with {len(optimizers)} optimizer(s) on all of them "
                             "(a cross-task comparison needs >= 2 of each)")
    done = task_runs(selection)
    scales, kinds = choose_scales(done, table or {})
    curves = normalise(curves_frame(done), scales)
    final = final_values(curves)
    matrix = final.groupby(["task", "optimizer"])["norm_regret"].mean().unstack("optimizer")
    test = friedman(matrix, alpha) if len(optimizers) >= 3 else None
    auto, note = autorank_summary(matrix, alpha) if test is not None else (None, "fewer than 3 optimizers")
    return CrossTask(selection=selection, curves=curves, scales=scales, scale_kinds=kinds,
                     ranks=ranks_over_time(curves),
                     aggregate=aggregate_regret(curves), final=final_table(curves), ecdf=ecdf_frame(curves),
                     matrix=matrix, friedman=test,
                     autorank=auto, autorank_note=note)
