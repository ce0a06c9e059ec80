"""Reader for the official NAS-Bench-201 benchmark files ``NAS-Bench-201-v1_0-e61699.pth`` / ``-v1_1-096897.pth``.

The file is a ``torch.save``-d dict (layout read from the NB201 API, D-X-Y/NAS-Bench-201 ``nas_201_api/api_201.py``
``NASBench201API.__init__`` and D-X-Y/AutoDL-Projects ``lib/nas_201_api/api_utils.py``)::

    {"meta_archs": [arch string of index 0, 1, ...],
     "evaluated_indexes": [...],
     "arch2infos": {index: {"less": ArchResults state (12 epochs), "full": ArchResults state (200 epochs)}}}

An ArchResults state is ``{"arch_index", "arch_str", "dataset_seed": {dataset: [seed, ...]}, "all_results":
{(dataset, seed): ResultsCount state}, ...}``; a ResultsCount state is the object's ``__dict__``: ``epochs`` (total),
``train_acc1es`` / ``train_losses`` / ``train_times`` keyed by 0-based epoch (``train_times`` may be None),
``eval_acc1es`` / ``eval_losses`` / ``eval_times`` keyed ``"<set>@<epoch>"`` (sets ``x-valid``, ``x-test``,
``ori-test``), ``params`` (MB), ``flop`` (M), ``latency`` (list of seconds, or None).

NATS-Bench topology (``nats_bench.py`` beside this file) stores the same ArchResults states, so the helpers that
turn them into ``DatasetTable`` arrays live here and are shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from nas_exp.benchmarks.nb201_sources import DATASETS
from nas_exp.data.store import DatasetTable
from nas_exp.errors import UserError
from nas_exp.search_spaces.nb201 import N_CELLS, Arch

# Which NB201 evaluation set is our "valid" and "test" on each dataset (NB201 API ``get_more_info``):
# cifar10-valid trains on train, validates on x-valid, tests on the CIFAR-10 test set (ori-test);
# cifar10 trains on train+valid, so it has only ori-test; cifar100 / ImageNet16-120 split their test set into
# x-valid and x-test (their ori-test is both halves together and is not used).
EVAL_SETS: dict[str, tuple[str | None, str]] = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": (None, "ori-test"),
    "cifar100": ("x-valid", "x-test"),
    "ImageNet16-120": ("x-valid", "x-test"),
}
FULL_KEY = "full"  # the 200-epoch results in a .pth file ("less" is the 12-epoch one)
_NAN = float("nan")


# -- meta_archs ------------------------------------------------------------------------------------------------
def check_meta_archs(meta_archs: Any, source: Path | str) -> None:
    """Raise ValueError unless ``meta_archs`` lists all NB201 cells in official index order."""
    if not isinstance(meta_archs, Sequence) or isinstance(meta_archs, str):
        raise UserError(f"{source}: 'meta_archs' is a {type(meta_archs).__name__}, expected a list of arch strings")
    if len(meta_archs) != N_CELLS:
        raise UserError(f"{source}: 'meta_archs' lists {len(meta_archs)} architectures, expected {N_CELLS}")
    official = official_arch_strings()
    for i, arch_str in enumerate(meta_archs):
        if arch_str == official[i]:
            continue  # fast path; anything else is parsed, so equivalent spellings still pass
        try:
            index = Arch.from_str(arch_str).index
        except ValueError as err:
            raise UserError(f"{source}: meta_archs[{i}] is not an NB201 arch: {err}") from None
        if index != i:
            raise UserError(f"{source}: meta_archs[{i}] is {arch_str!r}, whose NB201 index is {index}, not {i}")


@cache
def official_arch_strings() -> tuple[str, ...]:
    """The arch string of every NB201 index, in index order."""
    return tuple(Arch.from_index(i).to_str() for i in range(N_CELLS))


@cache
def _official_index() -> dict[str, int]:
    return {arch_str: i for i, arch_str in enumerate(official_arch_strings())}


def arch_index(arch_str: Any) -> int:
    """NB201 index of an arch string (a dict look-up for the official spelling; ValueError if malformed)."""
    index = _official_index().get(arch_str) if isinstance(arch_str, str) else None
    return Arch.from_str(arch_str).index if index is None else index


# -- per-run series --------------------------------------------------------------------------------------------
def _as_float(value: Any) -> float:
    return _NAN if value is None else float(value)


def _floats(raw: list[Any]) -> np.ndarray:
    try:
        return np.array(raw, dtype=np.float64)  # fast path: numbers (None becomes NaN)
    except (TypeError, ValueError):
        return np.array([_as_float(v) for v in raw], dtype=np.float64)  # e.g. 0-d tensors


def per_epoch(values: Any, n_epochs: int) -> np.ndarray:
    """``values`` keyed by 0-based epoch (dict or list; None = absent) as a float array of ``n_epochs``."""
    if values is None:
        return np.full(n_epochs, _NAN)
    if isinstance(values, Mapping):
        return _floats([values.get(e) for e in range(n_epochs)])
    head = list(values)[:n_epochs]
    return _floats(head + [None] * (n_epochs - len(head)))


@cache
def _eval_keys(set_name: str, n_epochs: int) -> tuple[str, ...]:
    return tuple(f"{set_name}@{e}" for e in range(n_epochs))


def per_eval(values: Any, set_name: str, n_epochs: int) -> np.ndarray:
    """An eval dict keyed ``"<set>@<epoch>"`` as a float array of ``n_epochs`` (NaN where a key is absent)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"eval results are a {type(values).__name__}, expected a dict keyed '<set>@<epoch>'")
    return _floats([values.get(k) for k in _eval_keys(set_name, n_epochs)])


def run_series(run: Mapping[str, Any], dataset: str, n_epochs: int) -> dict[str, np.ndarray]:
    """Our run metrics of one ResultsCount state, each a float array over epochs 1..n_epochs.

    Metrics the run does not have at all are left out (they stay NaN in the table).
    """
    valid_set, test_set = EVAL_SETS[dataset]
    train = {"train_acc": "train_acc1es", "train_loss": "train_losses", "train_time": "train_times"}
    series = {name: per_epoch(run[key], n_epochs) for name, key in train.items() if run.get(key) is not None}
    if "train_time" in series:  # cumulative seconds; NaN from the first epoch without a time on
        series["train_time"] = np.cumsum(series["train_time"])
    evals = [("test", test_set)] if valid_set is None else [("valid", valid_set), ("test", test_set)]
    for prefix, set_name in evals:
        for suffix, key in (("acc", "eval_acc1es"), ("loss", "eval_losses")):
            if run.get(key):
                series[f"{prefix}_{suffix}"] = per_eval(run[key], set_name, n_epochs)
    return series


def _run_latency(run: Mapping[str, Any]) -> float:
    latency = run.get("latency")
    if latency is None:
        return _NAN
    values = [float(x) for x in latency] if isinstance(latency, Iterable) else [float(latency)]
    return sum(values) / len(values) if values else _NAN


def cell_values(runs: Mapping[int, Mapping[str, Any]]) -> dict[str, float]:
    """params / flops / latency of one cell from its runs (seed -> ResultsCount state).

    As in NATS-Bench's ``get_compute_costs``: the mean over runs, except that params / flops that disagree between
    runs (a known legacy issue of the files) are taken from seed 888; latency ignores runs without one (<= 0).
    """
    seeds = sorted(runs)

    def consistent(key: str) -> float:
        values = [_as_float(runs[s].get(key)) for s in seeds]
        if len({f"{v:.5f}" for v in values}) > 1 and 888 in runs:
            return _as_float(runs[888].get(key))
        return sum(values) / len(values)

    latencies = [x for x in (_run_latency(runs[s]) for s in seeds) if x > 0]
    return {
        "params": consistent("params"),
        "flops": consistent("flop"),
        "latency": sum(latencies) / len(latencies) if latencies else _NAN,
    }


# -- table building --------------------------------------------------------------------------------------------
class TableBuilder:
    """Collects the runs of one dataset cell by cell; seeds fill slots from the front (sorted by seed)."""

    def __init__(self, dataset: str, n_epochs: int, n_slots: int = 3) -> None:
        if dataset not in DATASETS:
            raise UserError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
        self.dataset = dataset
        self.n_epochs = n_epochs
        self.used_slots = 0
        self.run: dict[str, np.ndarray] = {}
        self.cell: dict[str, np.ndarray] = {
            name: np.full(N_CELLS, np.nan) for name in ("params", "flops", "latency")
        }
        self._slots = max(1, n_slots)

    def _array(self, name: str) -> np.ndarray:
        if name not in self.run:
            self.run[name] = np.full((N_CELLS, self._slots, self.n_epochs), np.nan, dtype=np.float32)
        return self.run[name]

    def _grow(self, n_slots: int) -> None:
        if n_slots <= self._slots:
            return
        extra = n_slots - self._slots
        for name, values in self.run.items():
            pad = np.full((N_CELLS, extra, self.n_epochs), np.nan, dtype=np.float32)
            self.run[name] = np.concatenate([values, pad], axis=1)
        self._slots = n_slots

    def set_run(self, index: int, slot: int, series: Mapping[str, np.ndarray]) -> None:
        self._grow(slot + 1)
        self.used_slots = max(self.used_slots, slot + 1)
        for name, values in series.items():
            self._array(name)[index, slot, :] = values

    def set_cell(self, index: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.cell[name][index] = value

    def build(self) -> DatasetTable:
        """The table, without unused seed slots and without metrics that no run or cell has."""
        n = max(1, self.used_slots)
        run = {k: v[:, :n, :] for k, v in self.run.items() if not np.isnan(v[:, :n, :]).all()}
        cell = {k: v for k, v in self.cell.items() if not np.isnan(v).all()}
        return DatasetTable(dataset=self.dataset, epochs=np.arange(1, self.n_epochs + 1, dtype=np.int32),
                            total_epochs=self.n_epochs, run_metrics=run, config_metrics=cell)


def _group_runs(all_results: Any, where: str) -> dict[str, dict[int, Mapping[str, Any]]]:
    if not isinstance(all_results, Mapping):
        raise UserError(f"{where}: 'all_results' is a {type(all_results).__name__}, expected a dict")
    grouped: dict[str, dict[int, Mapping[str, Any]]] = {}
    for key, run in all_results.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise UserError(f"{where}: 'all_results' key {key!r} is not a (dataset, seed) pair")
        dataset, seed = key
        if dataset not in EVAL_SETS:
            raise UserError(f"{where}: unknown dataset {dataset!r} in 'all_results'; valid: {', '.join(DATASETS)}")
        if not isinstance(run, Mapping):
            raise UserError(f"{where}: result ({dataset!r}, {seed!r}) is a {type(run).__name__}, expected a dict")
        grouped.setdefault(dataset, {})[int(seed)] = run
    return grouped


def _total_epochs(runs: Mapping[int, Mapping[str, Any]], where: str) -> int:
    totals = {int(run["epochs"]) for run in runs.values() if run.get("epochs") is not None}
    if len(totals) != 1:
        raise UserError(f"{where}: runs disagree on (or lack) the total number of epochs: {sorted(totals)}")
    return totals.pop()


def add_arch_results(builders: dict[str, TableBuilder], index: int, state: Any, where: str,
                     arch_str: str | None = None) -> None:
    """Put one ArchResults state (one cell, one hyper-parameter setting) into ``builders`` (one per dataset)."""
    if not isinstance(state, Mapping):
        raise UserError(f"{where}: ArchResults state is a {type(state).__name__}, expected a dict")
    found = state.get("arch_str")
    if arch_str is not None and isinstance(found, str) and found != arch_str:
        raise UserError(f"{where}: results are for {found!r}, but meta_archs[{index}] is {arch_str!r}")
    for dataset, runs in _group_runs(state.get("all_results"), where).items():
        run_where = f"{where} {dataset}"
        n_epochs = _total_epochs(runs, run_where)
        if dataset not in builders:
            builders[dataset] = TableBuilder(dataset, n_epochs)
        builder = builders[dataset]
        if builder.n_epochs != n_epochs:
            raise UserError(f"{run_where}: trained {n_epochs} epochs, other cells {builder.n_epochs}")
        try:
            for slot, seed in enumerate(sorted(runs)):
                builder.set_run(index, slot, run_series(runs[seed], dataset, n_epochs))
            builder.set_cell(index, cell_values(runs))
        except (TypeError, ValueError, AttributeError) as err:
            raise UserError(f"{run_where}: malformed results ({err})") from None


def finish(builders: Mapping[str, TableBuilder], source: Path | str) -> list[DatasetTable]:
    if not builders:
        raise UserError(f"{source}: holds no results")
    return [builders[d].build() for d in DATASETS if d in builders]


# -- the .pth file ---------------------------------------------------------------------------------------------
def _load_pth(path: Path) -> Mapping[str, Any]:
    try:
        import torch  # heavy, and optional for the project: only when a .pth file is converted
    except ImportError:
        raise UserError(f"{path}: reading a .pth file needs PyTorch: pip install torch "
                         "(or install nas-exp with its 'train' extra)") from None

    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a damaged file
        raise UserError(f"{path}: not a readable torch file ({type(err).__name__}: {err})") from None
    if not isinstance(data, Mapping):
        raise UserError(f"{path}: holds a {type(data).__name__}, expected the NAS-Bench-201 dict")
    missing = [k for k in ("meta_archs", "arch2infos") if k not in data]
    if missing:
        raise UserError(f"{path}: lacks key(s) {', '.join(missing)}; not a NAS-Bench-201 benchmark file")
    return data


def convert_nb201_pth(path: Path | str) -> list[DatasetTable]:
    """All 200-epoch ('full') results of an NB201 .pth file, one table per dataset, in NB201 index order."""
    path = Path(path)
    data = _load_pth(path)
    meta_archs = data["meta_archs"]
    check_meta_archs(meta_archs, path)
    arch2infos = data["arch2infos"]
    if not isinstance(arch2infos, Mapping):
        raise UserError(f"{path}: 'arch2infos' is a {type(arch2infos).__name__}, expected a dict")
    builders: dict[str, TableBuilder] = {}
    for key, infos in arch2infos.items():
        index = int(key)
        if not 0 <= index < N_CELLS:
            raise UserError(f"{path}: 'arch2infos' has index {key!r}, outside 0..{N_CELLS - 1}")
        if not isinstance(infos, Mapping) or FULL_KEY not in infos:
            raise UserError(f"{path}: arch2infos[{index}] has no {FULL_KEY!r} (200-epoch) results")
        add_arch_results(builders, index, infos[FULL_KEY], f"{path}: arch {index}", meta_archs[index])
    return finish(builders, path)
