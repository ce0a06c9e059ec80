"""Reader for NASLib's NAS-Bench-201 pickles ``nb201_{cifar10,cifar100,ImageNet16}_full_training.pickle``.

Layout, from automl/NASLib ``naslib/utils/get_dataset_api.py`` (``get_nasbench201_api``: plain ``pickle.load``, the
dict becomes ``dataset_api["nb201_data"]``), ``naslib/search_spaces/nasbench201/graph.py`` (``query``) and
``tests/test_nb201_search_space.py`` (``create_dummy_api``)::

    {arch string: {dataset: {"train_acc1es": [per epoch], "train_losses": [...],
                             "eval_acc1es": [per epoch], "eval_losses": [...],
                             "cost_info": {"flops", "params", "latency", "train_time"}}}}

Dataset keys are NB201's: the cifar10 file holds ``"cifar10-valid"`` (NASLib maps its "cifar10" to it), the others
``"cifar100"`` and ``"ImageNet16-120"``. There is one run per cell (no seeds).

NASLib answers both ``Metric.VAL_ACCURACY`` and ``Metric.TEST_ACCURACY`` (and both losses) from the one
``eval_acc1es`` / ``eval_losses`` curve, so this reader stores that curve as valid_* and as test_*: the ``naslib``
source reproduces what NASLib's queries return. ``cost_info["train_time"]`` is one training epoch's seconds (NASLib
multiplies it by the epoch count), so train_time at epoch e is ``e * train_time``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nas_exp.data.converters.nb201_pth import TableBuilder, arch_index, finish, per_epoch
from nas_exp.benchmarks.nb201_sources import DATASETS
from nas_exp.data.store import DatasetTable
from nas_exp.errors import UserError

# NASLib's file names (get_dataset_api.py) -> the dataset key inside
FILES: dict[str, str] = {
    "nb201_cifar10_full_training.pickle": "cifar10-valid",
    "nb201_cifar100_full_training.pickle": "cifar100",
    "nb201_ImageNet16_full_training.pickle": "ImageNet16-120",
}
_NAN = float("nan")


def _load(path: Path) -> Mapping[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError) as err:
        raise UserError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(data, Mapping) or not data:
        raise UserError(f"{path}: holds a {type(data).__name__}, expected NASLib's {{arch string: results}} dict")
    return data


def _series(record: Mapping[str, Any], n_epochs: int) -> dict[str, np.ndarray]:
    cost = record.get("cost_info") or {}
    epoch_time = cost.get("train_time")
    valid_acc = per_epoch(record.get("eval_acc1es"), n_epochs)
    valid_loss = per_epoch(record.get("eval_losses"), n_epochs)
    return {
        "train_acc": per_epoch(record.get("train_acc1es"), n_epochs),
        "train_loss": per_epoch(record.get("train_losses"), n_epochs),
        "valid_acc": valid_acc,
        "valid_loss": valid_loss,
        "test_acc": valid_acc,
        "test_loss": valid_loss,
        "train_time": np.full(n_epochs, _NAN) if epoch_time is None
        else float(epoch_time) * np.arange(1, n_epochs + 1),
    }


def _cell(record: Mapping[str, Any]) -> dict[str, float]:
    cost = record.get("cost_info") or {}
    return {name: _NAN if cost.get(name) is None else float(cost[name]) for name in ("params", "flops", "latency")}


def _n_epochs(record: Mapping[str, Any], where: str) -> int:
    curve = record.get("train_acc1es", record.get("eval_acc1es"))
    if curve is None or len(curve) == 0:
        raise UserError(f"{where}: has no 'train_acc1es' / 'eval_acc1es' curve")
    return len(curve)


def _add_file(builders: dict[str, TableBuilder], path: Path, done: dict[str, Path]) -> None:
    data = _load(path)
    seen: set[str] = set()
    for arch_str, per_dataset in data.items():
        try:
            index = arch_index(arch_str)
        except ValueError as err:
            raise UserError(f"{path}: key {arch_str!r} is not an NB201 arch: {err}") from None
        if not isinstance(per_dataset, Mapping):
            raise UserError(f"{path}: {arch_str}: holds a {type(per_dataset).__name__}, expected {{dataset: results}}")
        for dataset, record in per_dataset.items():
            where = f"{path}: {arch_str} {dataset}"
            if dataset in done:
                raise UserError(f"{where}: dataset {dataset!r} was already read from {done[dataset]}")
            if dataset not in DATASETS:
                raise UserError(f"{where}: unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
            if not isinstance(record, Mapping):
                raise UserError(f"{where}: holds a {type(record).__name__}, expected a dict of curves")
            n_epochs = _n_epochs(record, where)
            if dataset not in builders:
                builders[dataset] = TableBuilder(dataset, n_epochs, n_slots=1)
            builder = builders[dataset]
            if n_epochs != builder.n_epochs:
                raise UserError(f"{where}: has {n_epochs} epochs, other cells {builder.n_epochs}")
            try:
                builder.set_run(index, 0, _series(record, n_epochs))
                builder.set_cell(index, _cell(record))
            except (TypeError, ValueError, AttributeError) as err:
                raise UserError(f"{where}: malformed results ({err})") from None
            seen.add(dataset)
    done.update({dataset: path for dataset in seen})


def convert_naslib(paths: Iterable[Path | str]) -> list[DatasetTable]:
    """The NB201 results of NASLib's pickles (any subset of the three files), one table per dataset."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError(f"no NASLib files given; expected some of {', '.join(FILES)}")
    builders: dict[str, TableBuilder] = {}
    done: dict[str, Path] = {}
    for path in paths:
        _add_file(builders, path, done)
    return finish(builders, ", ".join(str(p) for p in paths))


def naslib_files(directory: Path | str) -> list[Path]:
    """NASLib's official NB201 pickles present in ``directory``."""
    directory = Path(directory)
    return [directory / name for name in FILES if (directory / name).is_file()]
