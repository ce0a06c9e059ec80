"""The path encoding (BANANAS: White, Neiswanger & Savani, AAAI 2021) of a declared edge cell
(``DeclaredCellSpace``, capability ``PATHS``): a cell as the set of op sequences along its input-to-output paths,
computed from its ``CellDeclaration``, so every YAML-declared edge cell has one.

* **Node paths**: every sequence of declared edges from node 0 (the input) to the last node (the output),
  shortest first, then in node order (NB201: 0->3, 0->1->3, 0->2->3, 0->1->2->3).
* **Path ops**: the ops that carry data, i.e. every op an edge offers except zero ops (``none``: ``is_zero``
  in ``nas_exp/models/registry.py``), in the order the declaration first names them (edges in declaration
  order, each edge's ops in its order). A path *exists* in a cell when none of its edges carries a zero op: a
  zero edge passes nothing on.
* **Features**: one per op sequence that some node path can carry, i.e. the union over node paths of the products
  of their edges' non-zero ops; a feature is 1 where the cell has a path with that op sequence. Two node paths of
  one sequence (e.g. 0->1->3 and 0->2->3 both conv-conv) set one feature: the encoding is binary and names a path
  by its ops, as BANANAS does. A sequence no path can carry (an edge that never offers that op) gets no feature.
* **Order**: by length, then by the ops' positions in the path-op order, the op leaving the input first
  (lexicographically). Where every edge offers the same ops this is the sequence read as a base-k number.

For ``search_space=nb201_declared`` (the same ops on the same 6 edges) this is exactly NB201's encoding
(``nb201_paths.py``): the same 84 features in the same order, the same vector for every cell
(tests/test_path_encoding.py checks all 15,625). NB201's own space keeps its own encoder.

The width grows as (ops per edge) ** (longest path), so a deep cell with many ops gets a wide encoding;
``MAX_WIDTH`` features at most, beyond which ``path_encoder()`` refuses in one line (use
``optimizer.encoding=onehot``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from ConfigSpace import Configuration

from nas_exp.configspace_layout import VectorLayout
from nas_exp.errors import UserError
from nas_exp.feature_encoders import PATH

if TYPE_CHECKING:
    from nas_exp.search_spaces.declared import CellDeclaration, DeclaredCellSpace

MAX_WIDTH = 100_000  # features; BANANAS' own truncation point for NAS-Bench-101 was far below this


def _is_zero(op: str) -> bool:
    from nas_exp.models.registry import is_zero_op

    return is_zero_op(op)


def node_paths(decl: CellDeclaration) -> tuple[tuple[int, ...], ...]:
    """Every node sequence from the input node 0 to the output node along the declared edges, shortest first,
    then in node order."""
    successors: dict[int, list[int]] = {}
    for edge in decl.edges:
        successors.setdefault(edge.frm, []).append(edge.to)
    found: list[tuple[int, ...]] = []

    def walk(path: tuple[int, ...]) -> None:
        if path[-1] == decl.output:
            found.append(path)
            return
        for nxt in sorted(successors.get(path[-1], ())):
            walk((*path, nxt))

    walk((0,))
    return tuple(sorted(found, key=lambda path: (len(path), path)))


def path_edges(decl: CellDeclaration) -> tuple[tuple[int, ...], ...]:
    """Each node path (``node_paths`` order) as the positions in ``decl.edges`` (and so in an architecture) of its
    edges, input side first."""
    position = {(edge.frm, edge.to): i for i, edge in enumerate(decl.edges)}
    return tuple(tuple(position[frm, to] for frm, to in zip(path, path[1:])) for path in node_paths(decl))


def path_ops(decl: CellDeclaration) -> tuple[str, ...]:
    """The ops a path can run through (every offered op but the zero ops), in the order the declaration first
    names them."""
    ops: dict[str, None] = {}
    for edge in decl.edges:
        for op in edge.ops:
            if not _is_zero(op):
                ops.setdefault(op)
    return tuple(ops)


def path_features(decl: CellDeclaration) -> tuple[tuple[str, ...], ...]:
    """The op sequences some node path can carry, one feature each, by length and then path-op order."""
    rank = {op: i for i, op in enumerate(path_ops(decl))}
    carried = [[op for op in edge.ops if op in rank] for edge in decl.edges]
    edges = path_edges(decl)
    bound = sum(math.prod(len(carried[p]) for p in positions) for positions in edges)
    if bound > MAX_WIDTH:  # the union is at most the sum; refuse before enumerating it
        raise UserError(f"search_space={decl.name}'s path encoding would have up to {bound} features (more than "
                        f"{MAX_WIDTH}: {len(edges)} input-output paths of up to {max(map(len, edges))} edges); use "
                        "optimizer.encoding=onehot")
    features = {ops for positions in edges for ops in itertools.product(*(carried[p] for p in positions))}
    return tuple(sorted(features, key=lambda ops: (len(ops), [rank[op] for op in ops])))


class CellPathEncoder:
    """Configurations of a ``DeclaredCellSpace`` -> their path encodings (a ``FeatureEncoder``, name ``path``)."""

    name = PATH

    def __init__(self, space: DeclaredCellSpace) -> None:
        decl = space.decl
        self._space = space
        self.features = path_features(decl)
        self.width = len(self.features)
        if self.width == 0:
            raise UserError(f"search_space={decl.name} has no input-output path that can carry data (every path "
                            "runs through an edge offering only zero ops), so no path encoding; use "
                            "optimizer.encoding=onehot")
        self._column = {ops: i for i, ops in enumerate(self.features)}
        self._edges = path_edges(decl)
        self._zero = [frozenset(op for op in edge.ops if _is_zero(op)) for edge in decl.edges]
        # decoding a configuration from its vector: column j of the vector is edge ``self._positions[j]``
        configspace = space.configspace
        by_column = sorted(((configspace.index_of[edge.name], i) for i, edge in enumerate(decl.edges)))
        self._positions = [i for _, i in by_column]
        self._layout = VectorLayout([(decl.edges[i].name, decl.edges[i].ops) for i in self._positions])

    def paths(self, arch: Sequence[str]) -> list[tuple[str, ...]]:
        """The op sequence of every input-to-output path ``arch`` has (none through a zero op), node-path order."""
        found = []
        for positions in self._edges:
            if not any(arch[p] in self._zero[p] for p in positions):
                found.append(tuple(arch[p] for p in positions))
        return found

    def encode(self, arch: Sequence[str]) -> np.ndarray:
        """The path encoding of an architecture (its edges' ops in declaration order)."""
        vector = np.zeros(self.width)
        for ops in self.paths(arch):
            vector[self._column[ops]] = 1.0
        return vector

    def _arch(self, config: Configuration) -> Sequence[str]:
        if isinstance(config, Configuration) and self._layout.matches(config.config_space):
            arch: list[str] = [""] * len(self._positions)
            for (_, ops), position, value in zip(self._layout.columns, self._positions, config.get_array()):
                arch[position] = ops[int(value)]
            return arch
        return self._space.from_config(config)

    def __call__(self, config: Configuration) -> np.ndarray:
        return self.encode(self._arch(config))

    def many(self, configs: Sequence[Configuration]) -> np.ndarray:
        return np.array([self(config) for config in configs]).reshape(len(configs), self.width)
