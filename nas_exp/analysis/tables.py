"""Tables of a sweep: final incumbents per optimizer and dataset, and the transfer of the found cells to the other
NB201 datasets; as numbers (DataFrames) and rendered as Markdown and LaTeX (booktabs)."""

from __future__ import annotations

import math

import pandas as pd

from nas_exp.analysis.optimum import Benchmarks
from nas_exp.analysis.sweep import Run

TRANSFER_TARGETS: tuple[str, ...] = ("cifar10-valid", "cifar100", "ImageNet16-120")
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def mean_std(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean and sample std (NaN for one seed) of ``columns`` per group, columns ``(column, mean|std)``, plus
    ``(n_seeds, "")``."""
    grouped = frame.groupby(by, sort=True)
    table = grouped[columns].agg(["mean", "std"])
    table[("n_seeds", "")] = grouped.size()
    return table


def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Final incumbent's validation and test accuracy [%] per (dataset, optimizer): mean and std over seeds."""
    frame = runs.assign(valid_acc=runs["valid_acc"].astype(float), test_acc=runs["test_acc"].astype(float))
    return mean_std(frame, ["dataset", "optimizer"], ["valid_acc", "test_acc"])


def transfer_metric(benchmarks: Benchmarks, source: str, root: str | None, dataset: str) -> str:
    """The accuracy a transfer column reports: test where the source has it, else validation."""
    return "test_acc" if benchmarks.get(source, root).has(dataset, "test_acc") else "valid_acc"


def transfer_values(runs: list[Run], benchmarks: Benchmarks) -> pd.DataFrame:
    """One row per tabular run with an incumbent: the found cell's seed-mean accuracy [%] on each target dataset
    the source holds, in columns ``"<dataset> <metric>"``."""
    rows = []
    for run in runs:
        if run.info.source is None or not run.incumbent.get("arch"):
            continue
        bench = benchmarks.get(run.info.source, run.info.root)
        row = {"dataset": run.info.dataset, "optimizer": run.info.optimizer, "seed": run.info.seed}
        for target in TRANSFER_TARGETS:
            if target in bench.datasets:
                metric = transfer_metric(benchmarks, run.info.source, run.info.root, target)
                row[f"{target} {metric}"] = getattr(bench.query(run.incumbent["arch"], target, run.info.epoch),
                                                    metric)
        rows.append(row)
    return pd.DataFrame(rows)


def transfer_table(values: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of :func:`transfer_values` per (searched dataset, optimizer)."""
    targets = [c for c in values.columns if c not in ("dataset", "optimizer", "seed")]
    return mean_std(values.astype({c: float for c in targets}), ["dataset", "optimizer"], targets)


# -- rendering ----------------------------------------------------------------------------------------------------
def format_mean_std(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``; ``mean`` alone for one seed; ``n/a`` when there is no value."""
    if mean is None or math.isnan(mean):
        return "n/a"
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


RESULT_LABELS = {"valid_acc": "valid acc [%]", "test_acc": "test acc [%]"}


def transfer_labels(table: pd.DataFrame) -> dict[str, str]:
    """``cifar100 valid_acc`` -> ``cifar100 valid acc [%]``."""
    columns = dict.fromkeys(c for c, _ in table.columns if c != "n_seeds")
    labels = {c: c.replace("valid_acc", "valid acc [%]").replace("test_acc", "test acc [%]") for c in columns}
    return {"dataset": "search dataset", **labels}
