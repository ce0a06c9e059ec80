"""The tables behind a sweep's runs, opened on demand through each run's own search space (the space names its
benchmark), one per (space, source, root): an explicit cache passed where it is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate

from nas_exp.search_spaces.base import TABULAR, SearchSpace


def run_space(config: dict[str, Any]) -> SearchSpace:
    """The search space a run searched, rebuilt from its resolved config."""
    node = dict(config.get("search_space") or {"_target_": "nas_exp.search_spaces.nb201.NB201Space"})
    return instantiate(node)


class Benchmarks:
    """Tabular benchmarks of the runs' spaces, opened once each."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = root  # overrides the runs' own store root when given
        self._open: dict[tuple[str, str | None, str | None], Any] = {}
        self._spaces: dict[str, SearchSpace] = {}

    def space(self, config: dict[str, Any]) -> SearchSpace:
        key = repr(sorted((config.get("search_space") or {}).items()))
        if key not in self._spaces:
            self._spaces[key] = run_space(config)
        return self._spaces[key]

    def get(self, config: dict[str, Any], source: str | None, root: str | Path | None = None) -> Any | None:
        """The benchmark of the run's space and source (None for a space without a table)."""
        space = self.space(config)
        if TABULAR not in space.capabilities:
            return None
        where = self.root if self.root is not None else root
        key = (space.name, source, None if where is None else str(where))
        if key not in self._open:
            self._open[key] = space.tabular_benchmark(source=source, root=where)
        return self._open[key]
