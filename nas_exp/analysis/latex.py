"""report.tex: a standalone LaTeX document (article, graphicx, booktabs) collecting the cross-task comparison."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nas_exp.analysis.cross_task import CrossTask
from nas_exp.analysis.cross_task_figures import display_final
from nas_exp.analysis.tables import latex_escape

DEFINITION = (
    "Regret is the table's optimum of the search metric minus the incumbent's value (the other way round for a "
    "minimised metric). Normalised regret divides it, per task, by the regret of the table's median "
    "configuration (the median over all configurations of the table, i.e. of uniformly random configurations): "
    "0 is the table's optimum, 1 is as good as the median random configuration.")


def tex(text: object) -> str:
    out = latex_escape(str(text))
    for symbol, command in (("±", r"$\pm$"), ("≤", r"$\le$"), ("χ²", r"$\chi^2$"), ("α", r"$\alpha$")):
        out = out.replace(symbol, command)
    return out


def figure(stem: str, caption: str, width: str = r"0.8\textwidth") -> str:
    return "\n".join([r"\begin{figure}[ht]", r"\centering", rf"\includegraphics[width={width}]{{{stem}.pdf}}",
                      rf"\caption{{{tex(caption)}}}", rf"\label{{fig:{stem}}}", r"\end{figure}", ""])


def tabular(shown: pd.DataFrame, caption: str, label: str, index_name: str) -> str:
    columns = [index_name, *shown.columns]
    lines = [r"\begin{table}[ht]", r"\centering", r"\small", rf"\caption{{{tex(caption)}}}", rf"\label{{tab:{label}}}",
             r"\resizebox{\textwidth}{!}{%", rf"\begin{{tabular}}{{l{'r' * len(shown.columns)}}}", r"\toprule",
             " & ".join(tex(c) for c in columns) + r" \\", r"\midrule"]
    for name, row in shown.iterrows():
        lines.append(" & ".join(tex(v) for v in [name, *row.tolist()]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table}", ""]
    return "\n".join(lines)


def test_paragraph(result: CrossTask) -> str:
    lines = []
    test = result.friedman
    if test is not None:
        verdict = "reject" if test.pvalue < test.alpha else "do not reject"
        lines.append(
            f"Friedman test over the {test.n_tasks} tasks x {test.n_optimizers} optimizers matrix of seed-mean final "
            f"normalised regret: χ² = {test.statistic:.3f} ({test.n_optimizers - 1} degrees of freedom, "
            f"tie-corrected), p = {test.pvalue:.3g}; we {verdict} that all optimizers rank equally at "
            f"α = {test.alpha:g}. Nemenyi's critical difference of mean ranks is {test.critical_difference:.3f}.")
    auto = result.autorank
    if auto is not None:
        cd = "" if auto.critical_difference is None else f", critical difference {auto.critical_difference:.3f}"
        lines.append(f"autorank chose {auto.omnibus} with the {auto.posthoc} post-hoc test because {auto.why}; "
                     f"p = {auto.pvalue:.3g}{cd}.")
    elif test is not None:
        lines.append(f"(autorank not run: {result.autorank_note}; the test above is this package's own "
                     "Friedman/Nemenyi.)")
    return tex(" ".join(lines)) + "\n"


def report_tex(result: CrossTask, title: str = "Cross-task comparison of optimizers") -> str:
    """The whole document; figures are referenced by their PDF names in the same folder."""
    selection = result.selection
    low, high = result.n_seeds
    seeds = f"{low}" if low == high else f"{low}--{high}"
    n = selection.n_common
    axis = (f"All curves are over the number of evaluations 1..{n}, the common minimum budget of the runs"
            + (f" (the longest ran {selection.n_longest}; evaluations past {n} are not used)."
               if selection.n_longest > n else "."))
    dropped = (" Left out: " + "; ".join(selection.dropped) + ".") if selection.dropped else ""
    fallback = sorted(task for task, kind in result.scale_kinds.items() if kind != "table median")
    if fallback:
        dropped += (f" No table could be opened for {', '.join(fallback)}: there the scale is the regret of the worst "
                    "configuration any run evaluated on the task.")
    ranks = result.ranks.iloc[-1].sort_values()
    ranks_table = pd.DataFrame({"average rank": [f"{v:.2f}" for v in ranks],
                                "final normalised regret": [
                                    "{:.3f} ± {:.3f}".format(*result.final.loc[(opt, "all tasks"), ["mean", "stderr"]])
                                    for opt in ranks.index]}, index=ranks.index)
    final = display_final(result.final).T
    tasks = ", ".join(result.tasks)
    parts = [
        r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}", r"\usepackage{graphicx}",
        r"\usepackage{booktabs}", r"\usepackage[T1]{fontenc}", rf"\title{{{tex(title)}}}", r"\date{}",
        r"\begin{document}", r"\maketitle", "",
        tex(f"{len(result.optimizers)} optimizers ({', '.join(result.optimizers)}) on {len(result.tasks)} tabular "
            f"tasks (search space/dataset: {tasks}), {seeds} seeds each. ") + tex(DEFINITION) + " " + tex(axis)
        + tex(dropped) + "\n",
        r"\section*{Average rank and statistical test}", "",
        tabular(ranks_table, f"Average rank over tasks (1 = best, ties averaged) of each optimizer's seed-mean "
                f"normalised regret after {n} evaluations, and the final normalised regret averaged over tasks "
                f"(mean ± standard error over seeds).", "ranks", "optimizer"),
        test_paragraph(result),
        figure("cross_task_rank", f"Average rank over the {len(result.tasks)} tasks of each optimizer's seed-mean "
               "incumbent regret after each number of evaluations (1 = best; ties share the average rank)."),
        figure("cross_task_regret", "Normalised incumbent regret after each number of evaluations: per seed the "
               "mean over tasks, then the mean (line) and standard error (band) over seeds; log scale. " + DEFINITION),
        figure("cross_task_ecdf", f"Empirical CDF of the final normalised regret (after {n} evaluations) of every "
               "task x seed run, per optimizer: the height at x is the fraction of runs ending with regret at most "
               "x; the height at 0 is the fraction that found the table's optimum. Symlog x axis."),
    ]
    if result.friedman is not None:
        parts.append(figure("cross_task_cd", "Critical-difference diagram: mean rank over tasks of the seed-mean "
                            "final normalised regret (1 = best, left). Optimizers joined by a thick bar do not differ "
                            f"significantly (Nemenyi post-hoc test after a Friedman test, α = "
                            f"{result.friedman.alpha:g}); CD is the critical difference.", r"0.9\textwidth"))
    parts += [r"\section*{Final normalised regret per task}", "",
              tabular(final, f"Final normalised regret after {n} evaluations per task: mean ± standard error over "
                      "seeds; the last row averages over tasks per seed first.", "final", "task"),
              r"\end{document}", ""]
    return "\n".join(parts)


def write_report_tex(result: CrossTask, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.tex"
    path.write_text(report_tex(result))
    return path
