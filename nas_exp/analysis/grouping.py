"""Which runs of a sweep are seeds of the same thing: the config keys a sweep varies besides the seed.

Tables and figures always keep datasets and optimizers apart. Any further key (``budget.max_evaluations``,
``optimizer.eta``, an ablation's switch) splits the runs too: by default every key the runs' command lines
(``.hydra/overrides.yaml``) set to different values, except the seed and the bookkeeping keys (``progress``,
``resume``, ``hydra.*``); or the keys ``--group-by`` names, dotted as in the config. A run's value of a key is
its override, else Hydra's choice for a config group (``.hydra/hydra.yaml``), else its resolved config
(result.json). Two runs with the same group and seed on the same dataset are never averaged: that is an error
which names the keys they differ in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nas_exp.analysis.sweep import Run, SweepError
from nas_exp.sweep_summary import BOOKKEEPING_KEYS, plain

ALWAYS_APART = ("dataset", "optimizer")  # every table and figure keeps these apart anyway
NOT_A_GROUP = ("seed", *BOOKKEEPING_KEYS)


def hydra_choices(run_dir: Path) -> dict[str, str]:
    """The config group options Hydra composed the run with (``.hydra/hydra.yaml``), {} without that file."""
    path = Path(run_dir) / ".hydra" / "hydra.yaml"
    try:
        loaded = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except (OSError, yaml.YAMLError):
        return {}
    choices = ((loaded.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    return {str(k): plain(v) for k, v in choices.items()}


def config_value(run: Run, key: str) -> str:
    """The run's value of ``key`` as text: its override, the optimizer and dataset the analysis names it by, a
    config group's option, or the dotted key's value in its resolved config."""
    if key in run.overrides:
        return run.overrides[key]
    if key == "optimizer":
        return run.info.optimizer
    if key == "dataset":
        return run.info.dataset
    node: Any = run.result.get("config") or {}
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            choice = hydra_choices(run.run_dir).get(key)
            if choice is not None:
                return choice
            raise SweepError(f"--group-by {key}: {run.run_dir} has no such config key")
        node = node[part]
    if isinstance(node, dict):
        choice = hydra_choices(run.run_dir).get(key)
        if choice is None:
            raise SweepError(f"--group-by {key}: a config node, not a value, in {run.run_dir} (name one of its "
                             f"keys, e.g. {key}.{next(iter(node), 'KEY')})")
        return choice
    return plain(node)


def varied_keys(runs: Sequence[Run]) -> list[str]:
    """The overridden keys (besides seed and bookkeeping) whose values differ between the runs, in the order
    the command lines name them."""
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(k for k in run.overrides if k not in NOT_A_GROUP))
    varied = []
    for key in keys:
        values = set()
        for run in runs:
            try:
                values.add(config_value(run, key))
            except SweepError:
                values.add(None)  # not in that run's config: a different value too
        if len(values) > 1:
            varied.append(key)
    return varied


def group_keys(runs: Sequence[Run], requested: Sequence[str] | None = None) -> list[str]:
    """The keys that split the runs beyond dataset and optimizer: ``requested`` (``--group-by``), else the
    varied keys (:func:`varied_keys`)."""
    keys = list(requested) if requested else varied_keys(runs)
    if "seed" in keys:
        raise SweepError("--group-by seed: seeds are what the means are over; group by another key")
    return [key for key in dict.fromkeys(keys) if key not in ALWAYS_APART]


def with_groups(runs: Sequence[Run], keys: Sequence[str]) -> list[Run]:
    """The runs with their values of ``keys`` as their group (numbers where every run's value is one)."""
    values = {key: [config_value(run, key) for run in runs] for key in keys}
    for key, column in values.items():
        numbers = pd.to_numeric(pd.Series(column), errors="coerce")
        if numbers.notna().all() and not any(v in ("true", "false") for v in column):
            values[key] = [int(n) if float(n).is_integer() and "." not in v else float(n)
                           for n, v in zip(numbers, column)]
    return [dataclasses.replace(run, group=tuple((key, values[key][i]) for key in keys))
            for i, run in enumerate(runs)]


def check_no_repeated_seeds(runs: Sequence[Run]) -> None:
    """One run per (space, dataset, searched table, group, seed): several are named, with what they differ in."""
    seen: dict[tuple, list[Run]] = {}
    for run in runs:
        key = (run.info.space, run.info.dataset, run.info.search_on, run.info.optimizer, run.group, run.info.seed)
        seen.setdefault(key, []).append(run)
    for (_, dataset, _, _, _, seed), same in seen.items():
        if len(same) < 2:
            continue
        differ = varied_keys(same)
        folders = ", ".join(str(run.run_dir) for run in same[:3]) + (" ..." if len(same) > 3 else "")
        why = (f"they differ in {', '.join(differ)}: add it to the grouping (--group-by "
               f"{' '.join(dict.fromkeys([*(k for k, _ in same[0].group), *differ]))})" if differ else
               "with the same overrides (the same run twice?): analyse one sweep folder, or move one away")
        raise SweepError(f"{len(same)} runs of {same[0].label} on {dataset} with seed {seed} ({folders}); {why}")


def grouped_runs(runs: Sequence[Run], requested: Sequence[str] | None = None) -> tuple[list[Run], list[str]]:
    """(the runs with their groups, the keys grouped by beyond dataset and optimizer); raises SweepError on a
    repeated (group, seed)."""
    keys = group_keys(runs, requested)
    grouped = with_groups(runs, keys)
    check_no_repeated_seeds(grouped)
    return grouped, keys
