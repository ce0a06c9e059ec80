"""`python -m nas_exp.analysis SWEEP_DIR [--out DIR]`: results table and anytime figures of a sweep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_exp.analysis.figures import plot_anytime
from nas_exp.analysis.sweep import load_sweep, results_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.analysis", description=__doc__)
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, default=Path("outputs/figures"))
    args = parser.parse_args(argv)
    try:
        runs, trajectories = load_sweep(args.sweep)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = results_table(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(table.to_markdown() if _has_tabulate() else table.to_string())
    print(f"{len(runs)} runs from {args.sweep}\n{table.round(2).to_string()}")
    for path in plot_anytime(trajectories, args.out):
        print(f"wrote {path}")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
