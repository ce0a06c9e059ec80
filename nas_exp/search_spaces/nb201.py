"""NAS-Bench-201 cell space and its two converters (architecture <-> ConfigSpace configuration).

A cell has 4 nodes and 6 edges; every edge carries one of 5 ops, so the space holds 5**6 = 15,625 cells.

Encodings of one cell supported here, all lossless:

* ``Arch``: a tuple of 6 op names in NB201's string order (``EDGES``).
* the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (``Arch.from_str`` / ``Arch.to_str``);
* the NB201 index 0..15624, the order of the official benchmark files (``Arch.from_index`` / ``Arch.index``);
* the base-5 code 0..15624 of the op indices in ``OPS`` order, edge 1<-0 most significant (``Arch.code``);
* NASLib's op-index list (its own op order and edge order; ``Arch.from_naslib`` / ``Arch.to_naslib``);
* a ConfigSpace configuration with one categorical per edge (``NB201Space.to_config`` / ``from_config``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import Categorical, Configuration, ConfigurationSpace

from nas_exp.configspace_layout import VectorLayout
from nas_exp.errors import UserError
from nas_exp.feature_encoders import FeatureEncoder
from nas_exp.search_spaces.base import CELL_DAG, FINITE, NETWORK, PATHS, TABULAR, SearchSpace
from nas_exp.search_spaces.supernet_layout import EdgeCellLayout

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (to_node, from_node) in the order the official string lists them.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
EDGE_NAMES: tuple[str, ...] = tuple(f"edge_{to}_{frm}" for to, frm in EDGES)
N_EDGES = len(EDGES)
N_CELLS = len(OPS) ** N_EDGES

# NASLib orders ops and edges differently (naslib/search_spaces/nasbench201/conversions.py).
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# NASLib's edge k is our edge NASLIB_EDGE_POSITION[k] (its edge list is sorted by source node, ours by target).
NASLIB_EDGE_POSITION: tuple[int, ...] = (0, 1, 3, 2, 4, 5)

_OP_POSITION = {op: i for i, op in enumerate(OPS)}
_NASLIB_OP_POSITION = {op: i for i, op in enumerate(NASLIB_OPS)}
_NODE_RE = re.compile(r"^([a-z0-9_]+)~(\d+)$")
_ORDER_FILE = "nb201_index_order.npy"


@cache
def _index_to_code() -> np.ndarray:
    """Base-5 code of each NB201 index, in the official file order (shipped with the package)."""
    with resources.files(__package__).joinpath(_ORDER_FILE).open("rb") as handle:
        order = np.load(handle)
    if order.shape != (N_CELLS,) or len(np.unique(order)) != N_CELLS:
        raise RuntimeError(f"{_ORDER_FILE} is damaged: reinstall nas_exp")
    order.setflags(write=False)
    return order


@cache
def _code_to_index() -> np.ndarray:
    inverse = np.empty(N_CELLS, dtype=np.int64)
    inverse[_index_to_code()] = np.arange(N_CELLS)
    inverse.setflags(write=False)
    return inverse


@cache
def _index_of() -> dict[tuple[str, ...], int]:
    """Official index of every cell, keyed by its op tuple (one dict lookup per query instead of a base-5 sum)."""
    codes = _index_to_code()
    return {tuple(OPS[i] for i in code_to_op_indices(int(codes[index]))): index for index in range(N_CELLS)}


def _check_op(op: Any, where: str) -> str:
    if op not in _OP_POSITION:
        raise UserError(f"unknown op {op!r} on {where}; valid ops: {', '.join(OPS)}")
    return op


class Arch(tuple):
    """An NB201 cell: an immutable, hashable tuple of 6 op names in ``EDGES`` order."""

    __slots__ = ()

    def __new__(cls, ops: Iterable[str]) -> Arch:
        ops = tuple(ops)
        if len(ops) != N_EDGES:
            raise UserError(f"an NB201 cell has {N_EDGES} edges, got {len(ops)} ops: {ops!r}")
        for op, name in zip(ops, EDGE_NAMES):
            _check_op(op, name)
        return super().__new__(cls, ops)

    def __repr__(self) -> str:
        return f"Arch({self.to_str()!r})"

    # -- official string --------------------------------------------------------------------------------------
    @classmethod
    def from_str(cls, arch_str: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        if not isinstance(arch_str, str):
            raise UserError(f"an NB201 arch string must be a str, got {type(arch_str).__name__}")
        nodes = arch_str.split("+")
        if len(nodes) != 3:
            raise UserError(
                f"malformed NB201 arch string {arch_str!r}: expected 3 nodes joined by '+', got {len(nodes)}"
            )
        ops: list[str] = []
        for to_node, node in enumerate(nodes, start=1):
            if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
                raise UserError(f"malformed NB201 arch string {arch_str!r}: node {to_node} part {node!r} "
                                 "must start and end with '|'")
            inputs = node[1:-1].split("|")
            if len(inputs) != to_node:
                raise UserError(f"malformed NB201 arch string {arch_str!r}: node {to_node} needs {to_node} "
                                 f"inputs, got {len(inputs)} in {node!r}")
            for from_node, item in enumerate(inputs):
                match = _NODE_RE.match(item)
                if match is None:
                    raise UserError(f"malformed NB201 arch string {arch_str!r}: edge {item!r} is not 'op~node'")
                op, source = match.group(1), int(match.group(2))
                if source != from_node:
                    raise UserError(f"malformed NB201 arch string {arch_str!r}: edge {item!r} of node {to_node} "
                                     f"must come from node {from_node}, not {source}")
                ops.append(_check_op(op, f"edge_{to_node}_{from_node} in {arch_str!r}"))
        return cls(ops)

    def to_str(self) -> str:
        o = self
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    # -- integer encodings ------------------------------------------------------------------------------------
    @property
    def op_indices(self) -> tuple[int, ...]:
        """Index of each edge's op in ``OPS``."""
        return tuple(_OP_POSITION[op] for op in self)

    @classmethod
    def from_op_indices(cls, indices: Sequence[int]) -> Arch:
        if len(indices) != N_EDGES:
            raise UserError(f"an NB201 cell has {N_EDGES} edges, got {len(indices)} op indices: {list(indices)!r}")
        for i, name in zip(indices, EDGE_NAMES):
            if not (isinstance(i, (int, np.integer)) and 0 <= i < len(OPS)):
                raise UserError(f"op index {i!r} on {name} is out of range 0..{len(OPS) - 1}")
        return cls(OPS[i] for i in indices)

    @property
    def code(self) -> int:
        """Base-5 number of ``op_indices`` (edge 1<-0 most significant): a dense 0..15624 code."""
        value = 0
        for i in self.op_indices:
            value = value * len(OPS) + i
        return value

    @classmethod
    def from_code(cls, code: int) -> Arch:
        if not (isinstance(code, (int, np.integer)) and 0 <= code < N_CELLS):
            raise UserError(f"NB201 code {code!r} is out of range 0..{N_CELLS - 1}")
        return cls.from_op_indices(code_to_op_indices(int(code)))

    @property
    def index(self) -> int:
        """Index of this cell in the official NB201 / NATS-Bench files (0..15624)."""
        return _index_of()[self]

    @classmethod
    def from_index(cls, index: int) -> Arch:
        if not (isinstance(index, (int, np.integer)) and 0 <= index < N_CELLS):
            raise UserError(f"NB201 index {index!r} is out of range 0..{N_CELLS - 1}")
        return cls.from_code(int(_index_to_code()[index]))

    # -- NASLib ----------------------------------------------------------------------------------------------
    def to_naslib(self) -> tuple[int, ...]:
        """NASLib's ``op_indices``: its edge order, its op order."""
        return tuple(_NASLIB_OP_POSITION[self[pos]] for pos in NASLIB_EDGE_POSITION)

    @classmethod
    def from_naslib(cls, op_indices: Sequence[int]) -> Arch:
        if len(op_indices) != N_EDGES:
            raise UserError(f"NASLib op_indices need {N_EDGES} entries, got {len(op_indices)}: {list(op_indices)!r}")
        ops: list[str] = [""] * N_EDGES
        for k, (i, pos) in enumerate(zip(op_indices, NASLIB_EDGE_POSITION)):
            if not (isinstance(i, (int, np.integer)) and 0 <= i < len(NASLIB_OPS)):
                raise UserError(f"NASLib op index {i!r} at position {k} is out of range 0..{len(NASLIB_OPS) - 1}")
            ops[pos] = NASLIB_OPS[i]
        return cls(ops)


def code_to_op_indices(code: int) -> tuple[int, ...]:
    digits = []
    for _ in range(N_EDGES):
        code, digit = divmod(code, len(OPS))
        digits.append(digit)
    return tuple(reversed(digits))


def all_archs() -> list[Arch]:
    """Every cell, in NB201 index order."""
    return [Arch.from_index(i) for i in range(N_CELLS)]


class NB201Space(SearchSpace):
    """The NB201 cell space as a ConfigSpace of 6 categorical hyperparameters (one per edge). Its results are
    the NAS-Bench-201 table; its networks NB201's inferred ``TinyNetwork``; its path encoding
    ``nb201_paths.py``."""

    name = "nb201"
    capabilities = frozenset({TABULAR, NETWORK, CELL_DAG, FINITE, PATHS})

    def __init__(self, seed: int | None = None) -> None:
        # meta "absent": the op that removes the edge, for optimizers that grow cells edge by edge (pnas)
        self.configspace = ConfigurationSpace(
            name="nb201", seed=seed, space=[Categorical(name, OPS, meta={"absent": "none"}) for name in EDGE_NAMES]
        )
        self._layout = VectorLayout([(name, OPS) for name in EDGE_NAMES])  # vector value k on edge i: OPS[k]

    def __len__(self) -> int:
        return N_CELLS

    def to_config(self, arch: Arch) -> Configuration:
        arch = arch if isinstance(arch, Arch) else Arch(arch)
        return Configuration(self.configspace, values=dict(zip(EDGE_NAMES, arch)))

    def from_config(self, config: Configuration | Mapping[str, Any]) -> Arch:
        if isinstance(config, Configuration) and self._layout.matches(config.config_space):
            # decode the encoded vector directly (dict(config) converts every value, ~20x slower)
            return tuple.__new__(Arch, map(OPS.__getitem__, config.get_array().astype(np.intp).tolist()))
        values = dict(config)
        missing = [name for name in EDGE_NAMES if name not in values]
        if missing:
            raise UserError(f"configuration lacks NB201 edge(s) {', '.join(missing)}; it has {sorted(values)}")
        return Arch(values[name] for name in EDGE_NAMES)

    def key(self, arch: Arch) -> str:
        return arch.to_str()

    def from_key(self, key: str) -> Arch:
        return Arch.from_str(key)

    def table_index(self, arch: Arch) -> int:
        return arch.index

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

        return NB201Benchmark(source=source, root=root)

    def build_network(self, arch: Arch, seed: int, C: int, N: int, num_classes: int, in_channels: int = 3) -> Any:
        from nas_exp.models.network import seeded_network

        return seeded_network(arch, seed, C=C, N=N, num_classes=num_classes, in_channels=in_channels)

    def supernet_layout(self) -> EdgeCellLayout:
        """NB201's search cell: the 6 edges (``EDGES`` order) each offering the 5 ops (``OPS`` order), stacked as
        NB201's search network (3 stages of widths C, 2C, 4C)."""
        return EdgeCellLayout(edges=[(frm, to) for to, frm in EDGES], edge_ops=[OPS] * N_EDGES, nodes=4,
                              widths=(1, 2, 4), zero_ops=frozenset({"none"}), key=Arch.to_str, make_cell=Arch)

    def path_encoder(self) -> FeatureEncoder:
        """The cell's input-to-output paths as 84 binary features (BANANAS' encoding; ``nb201_paths.py``)."""
        self.require(PATHS, "encode its configurations by paths (optimizer.encoding=path)")
        from nas_exp.search_spaces.nb201_paths import NB201PathEncoder

        return NB201PathEncoder(self)

    def canonical_archs(self) -> Iterator[Arch]:
        return iter(all_archs())

    def sample(self, rng: np.random.Generator) -> Arch:
        return Arch(OPS[i] for i in rng.integers(len(OPS), size=N_EDGES))

    def neighbors(self, arch: Arch) -> list[Arch]:
        """All 24 cells that differ from ``arch`` on exactly one edge (edge-major, then OPS order)."""
        out = []
        for pos in range(N_EDGES):
            for op in OPS:
                if op != arch[pos]:
                    out.append(Arch(arch[:pos] + (op,) + arch[pos + 1:]))
        return out

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Change one uniformly drawn edge to a different, uniformly drawn op."""
        pos = int(rng.integers(N_EDGES))
        choices = [op for op in OPS if op != arch[pos]]
        return Arch(arch[:pos] + (choices[int(rng.integers(len(choices)))],) + arch[pos + 1:])
