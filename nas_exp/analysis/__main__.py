"""`python -m nas_exp.analysis SWEEP_DIR [--out DIR] [--root STORE] [--group-by KEY ...]`: tables and figures of
a sweep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_exp.analysis.report import make_report
from nas_exp.analysis.sweep import SweepError
from nas_exp.benchmarks.records import MetricUnavailableError
from nas_exp.data.store import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.analysis", description=__doc__)
    parser.add_argument("sweep", type=Path, help="a Hydra multirun folder (or any folder holding run folders)")
    parser.add_argument("--out", type=Path, default=Path("outputs/figures"), help="default: outputs/figures")
    parser.add_argument("--root", type=Path, default=None,
                        help="NB201 store for optima and transfers (default: the runs' own, else $NAS_EXP_DATA)")
    parser.add_argument("--group-by", nargs="+", metavar="KEY", default=None,
                        help="config keys (dotted, e.g. optimizer.eta budget.max_evaluations) that split the runs "
                             "beyond dataset and optimizer; default: every overridden key the runs differ in, "
                             "but the seed")
    args = parser.parse_args(argv)
    try:
        report = make_report(args.sweep, args.out, args.root, args.group_by)
    except (SweepError, StoreError, MetricUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(warning, file=sys.stderr)
    print(f"{len(report.runs)} runs from {args.sweep}")
    print(report.results.round(2).to_string())
    for note in report.notes:
        print(note)
    if report.cross_task is not None:
        print(report.cross_task.ranks.iloc[-1].sort_values().rename("average rank").round(3).to_string())
        test = report.cross_task.friedman
        if test is not None:
            print(f"Friedman chi2 = {test.statistic:.3f}, p = {test.pvalue:.3g}, "
                  f"Nemenyi CD = {test.critical_difference:.3f}")
    for path in report.written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
