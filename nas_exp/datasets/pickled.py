"""Reading the pickled batch files of CIFAR-10/100 and downsampled ImageNet (the official 'python' formats)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from nas_exp.errors import UserError


def read_pickle_dict(path: Path) -> dict[str, Any]:
    """A batch file as a dict with str keys. The official files were written by Python 2 (str keys, numpy arrays),
    so they are read with encoding latin1; byte-string keys (files written by Python 3) are decoded as well."""
    with open(path, "rb") as handle:
        entry = pickle.load(handle, encoding="latin1")
    if not isinstance(entry, dict):
        raise UserError(f"{path} is not a pickled batch dict (got {type(entry).__name__})")
    return {(key.decode("latin1") if isinstance(key, bytes) else key): value for key, value in entry.items()}


def require_keys(entry: dict[str, Any], keys: tuple[str, ...], path: Path) -> None:
    missing = [key for key in keys if key not in entry]
    if missing:
        raise UserError(f"{path} lacks key(s) {', '.join(missing)}; it has {sorted(entry)}")
