"""What identifies a run (optimizer, dataset, seed) and which table it searched, read from its resolved config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas_exp.errors import UserError


@dataclass(frozen=True)
class RunInfo:
    optimizer: str  # the Hydra choice (e.g. "smac"), else the optimizer's class name
    dataset: str  # the dataset preset's name (cifar10-valid, cifar10, protein_structure, cora, ...)
    seed: int
    search_on: str  # the table whose validation accuracy the optimizer saw
    report_on: str  # the table whose test accuracy was reported
    source: str | None  # data source of a tabular run; None for other evaluations
    root: str | None  # its store folder (None: $NAS_EXP_DATA, else the default, docs/data.md)
    epoch: int | None  # None: the last epoch the source stores
    space: str = "nb201"  # the search space's name


def optimizer_name(config: dict[str, Any], choice: str | None = None) -> str:
    """``choice`` (Hydra's option name) if given, else the config's ``optimizer_name``, else the class name of
    the optimizer's ``_target_``."""
    if choice:
        return str(choice)
    if config.get("optimizer_name"):
        return str(config["optimizer_name"])
    target = (config.get("optimizer") or {}).get("_target_")
    if not target:
        raise UserError("config has no optimizer._target_ and no optimizer_name")
    return str(target).rsplit(".", 1)[-1]


def run_info(config: dict[str, Any], optimizer_choice: str | None = None) -> RunInfo:
    """The run's identity from its resolved config (``result.json``'s ``config``)."""
    try:
        dataset = config["dataset"]
        evaluation = config.get("evaluation") or {}
        return RunInfo(
            optimizer=optimizer_name(config, optimizer_choice),
            dataset=str(dataset["name"]),
            seed=int(config["seed"]),
            search_on=str(dataset["search_on"]),
            report_on=str(dataset["report_on"]),
            source=evaluation.get("source"),
            root=evaluation.get("root"),
            epoch=evaluation.get("epoch"),
        )
    except (KeyError, TypeError) as err:
        raise UserError(f"config lacks {err} (expected dataset.name/search_on/report_on and seed)") from None


def hydra_optimizer_choice(run_dir: Path) -> str | None:
    """The optimizer option Hydra composed the run with (``.hydra/hydra.yaml``), or None without that file."""
    path = Path(run_dir) / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return None
    with open(path) as handle:
        hydra = yaml.safe_load(handle) or {}
    choice = ((hydra.get("hydra") or {}).get("runtime") or {}).get("choices", {}).get("optimizer")
    return str(choice) if choice else None
