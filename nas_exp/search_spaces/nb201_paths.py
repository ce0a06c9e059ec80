"""NB201's path encoding (BANANAS: White, Neiswanger & Savani, AAAI 2021): a cell as the set of its paths from the
input to the output, each path the sequence of ops along its edges.

An NB201 cell has four node paths from node 0 (input) to node 3 (output): 0->3, 0->1->3, 0->2->3 and 0->1->2->3
(derived from ``EDGES`` below, not typed in). A path *exists* when none of its edges carries ``none``: a ``none``
edge passes nothing on, so nothing flows along a path through it. The encoding has one column per possible op
sequence of each length over the four ops that carry data (``PATH_OPS``): 4 of length 1, 16 of length 2, 64 of
length 3, 84 in all; a column is 1 where the cell has a path of that sequence (two paths of one sequence, e.g.
0->1->3 and 0->2->3 both conv-conv, set one column: the paper's encoding is binary).

Column order: the length-1 block, then length 2, then length 3; inside a block the sequence read from the input
side as a base-4 number in ``PATH_OPS`` order, the op leaving the input most significant.

How this differs from the published code, and why:

* BANANAS' own NB201 code (naszilla ``Cell201.encode_paths``) and NASLib (``nasbench201/encodings.py:
  encode_paths``) count ``none`` as a fifth op: 5 + 25 + 125 = 155 columns, and every cell sets exactly four of
  them (one per node path, whatever its ops), so the encoding is a relabelling of the op on each edge. Here paths
  through ``none`` do not exist, as in the paper's definition (the paths of the cell's DAG; on NAS-Bench-101
  removing an edge removes its paths), and as in NPENAS' NB201 cell (``nas_lib``), which drops ``none`` edges and
  encodes paths over 4 ops. The 71 columns of sequences containing ``none`` would always be 0, so they are left
  out. Consequence: cells that differ only on edges no existing path uses (e.g. the ops into node 1 when every
  edge leaving node 1 is ``none``) share one vector, and the all-``none`` cell is the zero vector.
* NASLib applies naszilla's edge blueprints, written for NB201's string order of edges, to its own
  ``op_indices`` (edge order (1,2), (1,3), (1,4), (2,3), (2,4), (3,4) of 1-based nodes), so two of its four
  "paths" are not input-output paths (its "0->3" reads edge 1->2). Not reproduced here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ConfigSpace import Configuration

from nas_exp.feature_encoders import PATH
from nas_exp.search_spaces.nb201 import EDGES, OPS, NB201Space

ABSENT_OP = "none"
PATH_OPS: tuple[str, ...] = tuple(op for op in OPS if op != ABSENT_OP)  # the ops a path can run through
INPUT_NODE, OUTPUT_NODE = 0, 3


def node_paths(frm: int = INPUT_NODE, to: int = OUTPUT_NODE) -> tuple[tuple[int, ...], ...]:
    """Every node sequence from ``frm`` to ``to`` along ``EDGES``, shortest first, then in node order."""
    found: list[tuple[int, ...]] = []

    def walk(path: tuple[int, ...]) -> None:
        if path[-1] == to:
            found.append(path)
            return
        for target, source in sorted(EDGES):
            if source == path[-1]:
                walk((*path, target))

    walk((frm,))
    return tuple(sorted(found, key=lambda path: (len(path), path)))


NODE_PATHS: tuple[tuple[int, ...], ...] = node_paths()  # (0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3)
# each node path as the positions in ``EDGES`` (and so in an ``Arch``) of its edges, input side first
PATH_EDGES: tuple[tuple[int, ...], ...] = tuple(
    tuple(EDGES.index((to, frm)) for frm, to in zip(path, path[1:])) for path in NODE_PATHS)
LONGEST = max(len(edges) for edges in PATH_EDGES)
# first column of the block of each path length (length 1 at 0)
BLOCK_START: tuple[int, ...] = tuple(sum(len(PATH_OPS) ** k for k in range(1, length))
                                     for length in range(1, LONGEST + 1))
WIDTH = sum(len(PATH_OPS) ** length for length in range(1, LONGEST + 1))
_POSITION = {op: i for i, op in enumerate(PATH_OPS)}


def cell_paths(arch: Sequence[str]) -> list[tuple[str, ...]]:
    """The op sequence of every input-to-output path ``arch`` has (paths through ``none`` do not exist), in
    ``NODE_PATHS`` order."""
    paths = []
    for edges in PATH_EDGES:
        ops = tuple(arch[position] for position in edges)
        if ABSENT_OP not in ops:
            paths.append(ops)
    return paths


def path_column(ops: Sequence[str]) -> int:
    """The column of an op sequence: its length's block, then its base-4 number, the input-side op first."""
    if not 1 <= len(ops) <= LONGEST:
        raise ValueError(f"an NB201 path has 1 to {LONGEST} ops, got {len(ops)}: {tuple(ops)!r}")
    number = 0
    for op in ops:
        number = number * len(PATH_OPS) + _POSITION[op]
    return BLOCK_START[len(ops) - 1] + number


def encode_paths(arch: Sequence[str]) -> np.ndarray:
    """The 84-column path encoding of ``arch``."""
    vector = np.zeros(WIDTH)
    for ops in cell_paths(arch):
        vector[path_column(ops)] = 1.0
    return vector


class NB201PathEncoder:
    """NB201 configurations -> their path encodings (a ``FeatureEncoder``)."""

    name = PATH
    width = WIDTH

    def __init__(self, space: NB201Space) -> None:
        self._space = space

    def __call__(self, config: Configuration) -> np.ndarray:
        return encode_paths(self._space.from_config(config))

    def many(self, configs: Sequence[Configuration]) -> np.ndarray:
        return np.array([self(config) for config in configs]).reshape(len(configs), self.width)
