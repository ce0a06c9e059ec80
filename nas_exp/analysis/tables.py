"""Tables of a sweep: final incumbents per optimizer and dataset (with their regret, mean ± standard error), and
the transfer of the found architectures to the other datasets of their benchmark; as numbers (DataFrames) and
rendered as Markdown and LaTeX (booktabs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nas_exp.analysis.optimum import Benchmarks
from nas_exp.analysis.sweep import Run
from nas_exp.errors import UserError
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def mean_std(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean and sample std (NaN for one seed) of ``columns`` per group, columns ``(column, mean|std)``, plus
    ``(n_seeds, "")``."""
    grouped = frame.groupby(by, sort=True)
    table = grouped[columns].agg(["mean", "std"])
    table[("n_seeds", "")] = grouped.size()
    return table


def results_table(runs: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """Per (dataset, metric, optimizer, further group ``keys``): the final incumbent's search and report metric
    (mean and std over seeds) and its regret to the table's optimum (mean and standard error over seeds)."""
    frame = runs.assign(**{c: pd.to_numeric(runs[c], errors="coerce") for c in ("value", "test", "regret")})
    by = ["dataset", "metric", "optimizer", *keys]
    table = mean_std(frame, by, ["value", "test"])
    grouped = frame.groupby(by, sort=True)["regret"]
    table[("regret", "mean")] = grouped.mean()
    table[("regret", "std")] = grouped.std() / np.sqrt(grouped.count())  # the standard error of the mean
    n_seeds = table.pop(("n_seeds", ""))
    table[("n_seeds", "")] = n_seeds
    return table


def transfer_values(runs: list[Run], benchmarks: Benchmarks) -> pd.DataFrame:
    """One row per tabular run with an incumbent: the found architecture's seed-mean report metric (where the
    source has it, else search metric) on every dataset of its benchmark, in columns ``"<dataset> <metric>"``
    (NaN where the architecture has no row there)."""
    rows = []
    for run in runs:
        if not run.tabular or not run.incumbent.get("arch"):
            continue
        config = run.result.get("config") or {}
        bench = benchmarks.get(config, run.info.source, run.info.root)
        if bench is None:
            continue
        space = benchmarks.space(config)
        row = {"dataset": run.info.dataset, "optimizer": run.info.optimizer, **dict(run.group), "seed": run.info.seed}
        metrics = run.metrics
        for target in bench.datasets:
            metric = metrics.columns.report if bench.has(target, metrics.columns.report) else metrics.columns.search
            if not bench.has(target, metric):
                continue
            try:
                index = space.table_index(space.from_key(run.incumbent["arch"]))
                row[f"{target} {metric}"] = bench.query_index(index, target, run.info.epoch).get(metric)
            except (UserError, IndexError):  # no row for it there (e.g. an op that dataset's table lacks)
                row[f"{target} {metric}"] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def transfer_table(values: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and std over seeds of :func:`transfer_values` per (searched dataset, optimizer, group ``keys``)."""
    targets = [c for c in values.columns if c not in ("dataset", "optimizer", "seed", *keys)]
    return mean_std(values.astype({c: float for c in targets}), ["dataset", "optimizer", *keys], targets)


# -- rendering ----------------------------------------------------------------------------------------------------
def format_mean_std(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``; ``mean`` alone for one seed; ``n/a`` when there is no value."""
    if mean is None or math.isnan(mean):
        return "n/a"
    if 0 < abs(mean) < 0.1:  # small errors (MSE) and regrets: significant digits, not two decimals of zero
        return f"{mean:.3g}" if std is None or math.isnan(std) else f"{mean:.3g} ± {std:.2g}"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display_frame(table: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Strings for a ``mean_std`` table: its index levels, one ``mean ± std`` column per metric (titled by
    ``labels``, which may also rename index levels), and the number of seeds."""
    shown = pd.DataFrame(index=table.index)
    for column in dict.fromkeys(c for c, _ in table.columns if c != "n_seeds"):
        shown[labels.get(column, column)] = [format_mean_std(m, s) for m, s in
                                             zip(table[(column, "mean")], table[(column, "std")])]
    shown["seeds"] = table[("n_seeds", "")].astype(int).astype(str)
    return shown.reset_index().rename(columns=labels)


def to_markdown(shown: pd.DataFrame) -> str:
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(shown.columns))) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(shown: pd.DataFrame, caption: str) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``); ``±`` becomes ``$\\pm$``."""
    def cell(value: object) -> str:
        return latex_escape(value).replace("±", r"$\pm$")

    spec = "ll" + "r" * (len(shown.columns) - 2)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{cell(caption)}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(cell(c) for c in shown.columns) + r" \\", r"\midrule"]
    previous = None
    for row in shown.itertuples(index=False):
        first = "" if row[0] == previous else cell(row[0])  # name a dataset once per block
        if previous is not None and row[0] != previous:
            lines.append(r"\midrule")
        previous = row[0]
        lines.append(" & ".join([first, *(cell(v) for v in row[1:])]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


RESULT_LABELS = {"value": "search metric (mean ± std)", "test": "report metric (mean ± std)",
                 "regret": "regret (mean ± s.e.)"}


def transfer_labels(table: pd.DataFrame) -> dict[str, str]:
    """``cifar100 valid_acc`` -> ``cifar100 valid_acc`` (the metric's name is its own label)."""
    columns = dict.fromkeys(c for c, _ in table.columns if c != "n_seeds")
    return {"dataset": "search dataset", **{c: c for c in columns}}
