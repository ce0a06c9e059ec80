"""What a sweep did, job by job: the table printed when a multirun ends and written into its folder.

Every launcher (basic, joblib, submitit local and SLURM) leaves nothing in the launching process but the job
folders, so the summary is read from them: each job's ``.hydra/overrides.yaml`` (its config columns), and its
status from the files it left:

* ``finished``: result.json with any stop reason but ``interrupted``;
* ``interrupted``: result.json written on a signal (stop reason ``interrupted``; continue it with resume=true);
* ``failed``: failed.json (the job raised; nas_exp/failures.py);
* ``unfinished``: neither (killed without a chance to write, still queued, or still running).

``SweepSummary``, a Hydra callback, prints one line per job on stdout when the multirun ends, writes ``runs.csv``
(and ``runs.parquet`` where pyarrow is installed) into the sweep folder, then lists the failed jobs and exits
non-zero as ``FailureSummary`` does.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from nas_exp.failures import FAILED_FILE, exit_on_failures
from nas_exp.interruption import INTERRUPTED
from nas_exp.run_metrics import RunMetrics

RUNS_TABLE = "runs"  # runs.csv / runs.parquet in the sweep folder
STATUSES = ("finished", "interrupted", "failed", "unfinished")
# overrides that say how a run was started, not what it computes: never a config column of its own group
BOOKKEEPING_KEYS = ("progress", "resume")
RECORD_COLUMNS = ("status", "stop_reason", "error", "metric", "value", "regret", "report_metric", "report_value",
                  "report_regret", "arch", "n_evaluations", "simulated_time", "wall_time", "run_dir")
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def override_key(override: str) -> tuple[str, str] | None:
    """``++budget.max_evaluations=5`` -> ("budget.max_evaluations", "5"); None for deletions (``~key``) and
    Hydra's own settings (``hydra.*``, ``hydra/launcher=...``)."""
    if override.startswith("~") or "=" not in override:
        return None
    key, value = override.split("=", 1)
    key = key.lstrip("+")
    if key == "hydra" or key.startswith(("hydra.", "hydra/")):
        return None
    return key, plain_value(value)


def plain_value(text: str) -> str:
    """An override's value written the one way the config would print it (``True`` and ``true`` alike)."""
    try:
        return plain(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def plain(value: Any) -> str:
    """A config value as text: booleans and null as YAML writes them, numbers and strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def run_overrides(run_dir: Path) -> dict[str, str]:
    """The run's command-line overrides (``.hydra/overrides.yaml``), key -> value; {} without that file."""
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    try:
        listed = yaml.load(path.read_text(), Loader=_SAFE_LOADER) or []
    except (OSError, yaml.YAMLError):
        return {}
    pairs = (override_key(str(item)) for item in listed)
    return dict(pair for pair in pairs if pair is not None)


def job_number(run_dir: Path) -> int | None:
    """Hydra's job number: ``.hydra/hydra.yaml``'s hydra.job.num, else the folder name's leading number."""
    path = Path(run_dir) / ".hydra" / "hydra.yaml"
    try:
        number = ((yaml.load(path.read_text(), Loader=_SAFE_LOADER) or {}).get("hydra") or {})["job"]["num"]
        return int(number)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        found = re.match(r"(\d+)_", Path(run_dir).name)
        return int(found.group(1)) if found else None


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """result.json, or None where it is missing or unreadable (a run killed while writing it)."""
    try:
        result = json.loads((Path(run_dir) / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def failure_line(run_dir: Path) -> str:
    """The first line of the job's recorded error (failed.json), or "" without one."""
    try:
        record = json.loads((Path(run_dir) / FAILED_FILE).read_text())
        message = str(record.get("message") or "").strip()
        return f"{record.get('error_type', 'error')}: {message.splitlines()[0] if message else ''}".strip()
    except (OSError, ValueError, AttributeError):
        return f"see {Path(run_dir) / FAILED_FILE}" if (Path(run_dir) / FAILED_FILE).exists() else ""


def run_status(run_dir: Path, result: Mapping[str, Any] | None) -> str:
    """finished, interrupted, failed or unfinished (see the module's docstring)."""
    if (Path(run_dir) / FAILED_FILE).exists():
        return "failed"
    if result is None:
        return "unfinished"
    return "interrupted" if result.get("stop_reason") == INTERRUPTED else "finished"


def run_record(run_dir: Path) -> dict[str, Any]:
    """One row of the sweep's table: job, overrides, status, final incumbent (search and report metric with its
    regret to the table's optimum, where known), evaluations, simulated time, run folder."""
    run_dir = Path(run_dir)
    result = read_result(run_dir)
    row: dict[str, Any] = {"job": job_number(run_dir), "overrides": " ".join(
        f"{k}={v}" for k, v in run_overrides(run_dir).items()), "status": run_status(run_dir, result)}
    row["stop_reason"] = None if result is None else result.get("stop_reason")
    row["error"] = failure_line(run_dir) or None
    metrics = RunMetrics.from_record(None if result is None else result.get("metrics"))
    incumbent = (result or {}).get("incumbent") or {}
    value, test = incumbent.get(metrics.columns.search), incumbent.get(metrics.columns.report)
    regret = metrics.regret(value, test)
    row.update({
        "metric": metrics.columns.search, "value": value, "regret": regret.get("regret_valid"),
        "report_metric": metrics.columns.report, "report_value": test, "report_regret": regret.get("regret_test"),
        "arch": incumbent.get("arch"),
        "n_evaluations": None if result is None else result.get("n_evaluations"),
        "simulated_time": None if result is None else result.get("simulated_time"),
        "wall_time": None if result is None else result.get("wall_time"),
        "run_dir": str(run_dir.absolute()),
    })
    return row


def job_folders(sweep_dir: Path) -> list[Path]:
    """The sweep's job folders (those Hydra wrote ``.hydra`` into), by job number, then name."""
    found = [path.parent for path in Path(sweep_dir).glob("*/.hydra") if path.is_dir()]
    return sorted(found, key=lambda p: (job_number(p) is None, job_number(p) or 0, p.name))


def numeric_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Config columns whose every value is a number become numbers (5 < 10 when sorted); others stay text."""
    for column in columns:
        values = frame[column].dropna()
        converted = pd.to_numeric(values, errors="coerce")
        if len(values) and converted.notna().all() and not values.isin(["true", "false"]).any():
            frame[column] = pd.to_numeric(frame[column])
    return frame


def sweep_frame(sweep_dir: Path) -> pd.DataFrame:
    """One row per job of the sweep (:func:`run_record`), with one column per key any job overrode (values as
    in its overrides; a key a job did not override is empty there)."""
    folders = job_folders(sweep_dir)
    rows = []
    keys: dict[str, None] = {}
    for folder in folders:
        overrides = run_overrides(folder)
        keys.update(dict.fromkeys(k for k in overrides if k not in BOOKKEEPING_KEYS))
        rows.append((run_record(folder), overrides))
    records = [{**record, **{key: overrides.get(key) for key in keys}} for record, overrides in rows]
    base = ["job", "overrides", *keys]
    columns = base + [c for c in RECORD_COLUMNS if c not in base]
    frame = pd.DataFrame(records, columns=columns)
    return numeric_columns(frame, keys)


def write_sweep_table(frame: pd.DataFrame, sweep_dir: Path) -> list[Path]:
    """``runs.csv`` (and ``runs.parquet`` where pyarrow is installed) in the sweep folder."""
    csv = Path(sweep_dir) / f"{RUNS_TABLE}.csv"
    frame.to_csv(csv, index=False)
    written = [csv]
    if importlib.util.find_spec("pyarrow") is not None:
        parquet = csv.with_suffix(".parquet")
        frame.to_parquet(parquet, index=False)
        written.append(parquet)
    return written


def format_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def swept_keys(frame: pd.DataFrame) -> list[str]:
    """The config columns whose value differs between jobs (the sweep's axes)."""
    keys = [c for c in frame.columns[2:frame.columns.get_loc("status")]]
    return [k for k in keys if frame[k].astype(str).nunique(dropna=False) > 1]


def summary_table(frame: pd.DataFrame, sweep_dir: Path) -> list[str]:
    """A header (the jobs' counts per status and the overrides they share), then one line per job: number,
    the overrides it differs in, status, final incumbent's search metric, evaluations, folder."""
    if frame.empty:
        return [f"sweep {sweep_dir}: no job folders"]
    counts = frame["status"].value_counts()
    tally = ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts)
    lines = [f"sweep of {len(frame)} jobs: {tally} ({sweep_dir})"]
    keys = swept_keys(frame)
    config_keys = list(frame.columns[2:frame.columns.get_loc("status")])
    common = [f"{k}={frame[k].iloc[0]}" for k in config_keys if k not in keys and frame[k].notna().all()]
    if common:
        lines.append(f"  every job: {' '.join(common)}")
    metrics = frame["metric"].dropna().unique()
    value_title = str(metrics[0]) if len(metrics) == 1 else "value"
    table = pd.DataFrame({
        "#": frame["job"].map(format_number),
        "overrides": [" ".join(f"{k}={row[k]}" for k in keys if pd.notna(row[k])) or "-"
                      for _, row in frame.iterrows()],
        "status": frame["status"],
        value_title: frame["value"].map(format_number),
        "evals": frame["n_evaluations"].map(format_number),
        "folder": [Path(p).name for p in frame["run_dir"]],
    })
    widths = {c: max(len(c), *(len(str(v)) for v in table[c])) for c in table.columns}
    lines.append("  " + "  ".join(c.ljust(widths[c]) for c in table.columns).rstrip())
    for _, row in table.iterrows():
        lines.append("  " + "  ".join(str(row[c]).ljust(widths[c]) for c in table.columns).rstrip())
    return lines


def report_sweep(sweep_dir: Path, out=sys.stdout) -> pd.DataFrame:
    """Print the sweep's job table and write it into the sweep folder; returns it."""
    frame = sweep_frame(sweep_dir)
    lines = summary_table(frame, sweep_dir)
    if not frame.empty:
        written = write_sweep_table(frame, sweep_dir)
        lines.append(f"  table of all runs: {', '.join(str(p) for p in written)}")
    print("\n".join(lines), file=out, flush=True)
    return frame


class SweepSummary(Callback):
    """Hydra callback: when a multirun ends, print one line per job and write runs.csv into the sweep folder;
    then list the failed jobs on stderr and exit non-zero if any failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            report_sweep(sweep_dir)
        except OSError as err:  # a summary that cannot be written must not hide the failures below
            print(f"warning: no sweep summary written: {err}", file=sys.stderr, flush=True)
        exit_on_failures(sweep_dir)
