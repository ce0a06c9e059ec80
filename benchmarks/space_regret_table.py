"""Every optimizer on every tabular space: final regret to the table's optimum after a fixed number of
evaluations, mean ± standard error over seeds. One command runs the sweeps and prints the table:

    python benchmarks/space_regret_table.py [--seeds 10] [--evals 100] [--out outputs/space_table] [--jobs 2]

Per space one Hydra multirun (``optimizer=...`` x ``seed=range(N)``) on one of its datasets, through run.py and
the joblib launcher; then every run folder is read back with ``nas_exp.analysis.sweep`` (regret from the optimum
each run recorded in its result.json). Multi-fidelity optimizers fully evaluate every trial
(``budget_as_epochs=false``): the shipped tables hold final results only. An existing sweep folder is reused
(``--reuse``) so the table can be re-printed without re-running.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nas_exp.analysis.sweep import load_runs, runs_frame  # noqa: E402

SPACES = {  # space -> the dataset its row is measured on
    "nb201": "cifar10-valid",
    "fcnet": "protein_structure",
    "hpobench_mlp": "credit_g",
    "nasbench_graph": "cora",
}
OPTIMIZERS = ("random", "rea", "local_search", "reinforce", "smac", "smac_bb", "hyperband", "bohb", "tpe", "nsga2",
              "dehb")


def run_sweep(space: str, dataset: str, optimizers: list[str], seeds: int, evals: int, folder: Path,
              jobs: int) -> float:
    """Run one space's sweep into ``folder``; returns its wall time in seconds."""
    shutil.rmtree(folder, ignore_errors=True)
    args = [sys.executable, str(REPO / "run.py"), "-m", f"search_space={space}", f"dataset={dataset}",
            f"optimizer={','.join(optimizers)}", f"seed=range({seeds})", f"budget.max_evaluations={evals}",
            "++evaluation.budget_as_epochs=false", "progress=false", f"hydra.sweep.dir={folder}"]
    if jobs > 1:
        args += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: the {space} sweep failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def mean_se(values: pd.Series) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "n/a"
    mean = values.mean()
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    digits = ".3g" if 0 < abs(mean) < 0.1 else ".2f"
    return f"{mean:{digits}} ± {se:{'.2g' if digits == '.3g' else '.2f'}}"


def table(frame: pd.DataFrame, spaces: list[str], optimizers: list[str]) -> str:
    """Markdown: one row per optimizer, one column per space (regret in the space's metric and unit)."""
    headers = []
    for space in spaces:
        mine = frame[frame.space == space]
        metric = mine.metric.iloc[0] if len(mine) else "?"
        headers.append(f"{space} ({SPACES[space]}, {metric})")
    lines = ["| optimizer | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(spaces)]
    for optimizer in optimizers:
        cells = []
        for space in spaces:
            mine = frame[(frame.space == space) & (frame.optimizer == optimizer)]
            cells.append(f"{mean_se(mine.regret)} ({len(mine)})" if len(mine) else "-")
        lines.append(f"| {optimizer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "space_table")
    parser.add_argument("--jobs", type=int, default=2, help="joblib workers per sweep (1: the basic launcher)")
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    parser.add_argument("--reuse", action="store_true", help="read existing sweep folders instead of running")
    args = parser.parse_args(argv)
    for space in args.spaces:
        folder = args.out / space
        if args.reuse and folder.is_dir():
            continue
        seconds = run_sweep(space, SPACES[space], args.optimizers, args.seeds, args.evals, folder, args.jobs)
        print(f"{space}: {len(args.optimizers)} optimizers x {args.seeds} seeds in {seconds:.0f} s", flush=True)
    frame = pd.concat([runs_frame(load_runs(args.out / space)) for space in args.spaces], ignore_index=True)
    text = (f"Final regret after {args.evals} evaluations, mean ± standard error over seeds (number of runs in "
            f"brackets); regret = table optimum − incumbent for accuracies [% points], incumbent − optimum for "
            f"MSE.\n\n" + table(frame, args.spaces, args.optimizers))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "regret_table.md").write_text(text)
    frame.to_csv(args.out / "runs.csv", index=False)
    print(text)
    print(f"wrote {args.out / 'regret_table.md'} and {args.out / 'runs.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
