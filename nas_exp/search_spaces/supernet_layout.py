"""What a one-shot supernet is built from: a cell space's mixed edges and discrete decisions (capability
``CELL_DAG``, ``SearchSpace.supernet_layout``).

A space describes itself; ``nas_exp/one_shot`` builds the supernet and runs every one-shot method from this
description alone, knowing no space by name (NNI v3 and NASLib build supernets from a space description, too).

* The **mixed edges** are the rows of the architecture weights (alphas), the layout's ``ops`` their columns: edge
  ``e`` offers the ops of its ``columns`` (a cell may give an edge fewer ops than others; the missing columns are
  masked out of every softmax and argmax).
* A **path** names one column per edge, ``-1`` where the edge carries nothing in that cell (a DARTS node takes two
  of its inputs: its other edges are ``-1``); the supernet computes only the path's ops.
* The **decisions** are the categorical choices of one discrete cell (an edge cell: one op per edge; a DARTS cell:
  per node, which inputs, then an op per chosen input). ``decisions <-> cell`` is a bijection, so sampling,
  mutation, crossover and enumeration (mixed-radix codes, first decision most significant) happen on decisions.
* ``discretize`` turns alphas into a cell by the rule of the cell's kind: the argmax op per edge (NB201, edge
  cells), or DARTS' rule for node-input cells (per node, the ``k`` inputs whose strongest non-zero op weighs most,
  each with that op).

Cells are the space's own architectures (hashable); ``key`` is the space's ``key``. Nothing here imports torch.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from nas_exp.errors import UserError

MAX_CODED_CELLS = 2 ** 53  # spaces up to this size sample distinct cells by code; larger ones by rejection


@dataclass(frozen=True)
class MixedEdge:
    """One row of the architecture weights: the edge ``frm -> to`` of cells of type ``cell_type`` (0: normal, 1:
    reduction), offering the ops of ``columns`` (ascending positions in the layout's ``ops``); ``stride`` 2 on
    a reduction cell's edges from its input nodes."""

    cell_type: int
    frm: int
    to: int
    columns: tuple[int, ...]
    stride: int = 1


@dataclass(frozen=True)
class EdgeCellSkeleton:
    """NB201's skeleton: stem Conv3x3 + BN; one stage per width (``width * C`` channels, N cells each) with a
    residual stride-2 block between stages; head BN -> ReLU -> global pool -> Linear. A cell's node 0 is its input,
    node ``nodes - 1`` its output, each node the sum of its input edges; ``node_order``: the non-input nodes with
    every edge's source first."""

    nodes: int
    widths: tuple[int, ...]
    node_order: tuple[int, ...]


@dataclass(frozen=True)
class NodeInputSkeleton:
    """DARTS' search network: stem Conv3x3 to ``stem_multiplier * C`` + BN; ``layers(N)`` cells, reduction cells
    (channels doubled, stride 2 on the edges from the input nodes) at ``reduction_layers``; a cell's inputs are
    the two previous cells' outputs (preprocessed), its output the concatenation of its intermediate nodes; head
    global pool -> Linear. ``cell_types`` 1: reduction cells use the normal cell's rows."""

    inputs: int
    intermediate: int
    stem_multiplier: int
    reductions: int
    cell_types: int

    def layers(self, N: int) -> int:
        return darts_layers(self.reductions, N)

    def reduction_layers(self, layers: int) -> tuple[int, ...]:
        return darts_reduction_layers(self.reductions, layers)


def darts_layers(reductions: int, N: int) -> int:
    """Cells in a DARTS network: N normal cells per stage and a reduction cell between stages (DARTS' 20: N=6)."""
    return (reductions + 1) * N + reductions


def darts_reduction_layers(reductions: int, layers: int) -> tuple[int, ...]:
    return tuple(k * layers // (reductions + 1) for k in range(1, reductions + 1))


class SupernetLayout(ABC):
    """The supernet description of a cell space (see the module docstring). Subclasses fill ``ops``, ``edges``,
    ``zero_ops``, ``decision_sizes`` and ``skeleton`` and implement the conversions."""

    ops: tuple[str, ...]
    edges: tuple[MixedEdge, ...]
    zero_ops: frozenset[str]  # ops whose output is always zero (``none``)
    decision_sizes: tuple[int, ...]
    skeleton: EdgeCellSkeleton | NodeInputSkeleton
    key: Callable[[Hashable], str]  # the space's key of a cell

    # -- shape -------------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(edges, ops): the shape of the architecture weights."""
        return (len(self.edges), len(self.ops))

    @property
    def mask(self) -> np.ndarray:
        """Boolean (edges, ops): which op each edge offers."""
        mask = np.zeros(self.shape, dtype=bool)
        for row, edge in enumerate(self.edges):
            mask[row, list(edge.columns)] = True
        return mask

    @property
    def full(self) -> bool:
        """Every edge offers every op (no masking needed)."""
        return all(len(e.columns) == len(self.ops) for e in self.edges)

    def masked(self, alphas: np.ndarray) -> np.ndarray:
        """``alphas`` (float, edges x ops) with the columns an edge does not offer at -inf."""
        values = np.array(alphas, dtype=float)
        if values.shape != self.shape:
            raise UserError(f"architecture weights must have shape {self.shape}, got {tuple(values.shape)}")
        return values if self.full else np.where(self.mask, values, -np.inf)

    # -- decisions ---------------------------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        return math.prod(self.decision_sizes)

    def check_decisions(self, decisions: Sequence[int]) -> tuple[int, ...]:
        values = tuple(int(d) for d in decisions)
        if len(values) != len(self.decision_sizes):
            raise UserError(f"a cell has {len(self.decision_sizes)} decisions, got {len(values)}: {list(values)!r}")
        for pos, (d, size) in enumerate(zip(values, self.decision_sizes)):
            if not 0 <= d < size:
                raise UserError(f"decision {pos} is {d}, out of range 0..{size - 1}")
        return values

    def sample_decisions(self, rng: np.random.Generator) -> tuple[int, ...]:
        """Each decision uniformly (one draw for all when they share a size)."""
        sizes = self.decision_sizes
        if len(set(sizes)) == 1:
            return tuple(int(i) for i in rng.integers(sizes[0], size=len(sizes)))
        return tuple(int(rng.integers(size)) for size in sizes)

    def code_of(self, decisions: Sequence[int]) -> int:
        value = 0
        for d, size in zip(self.check_decisions(decisions), self.decision_sizes):
            value = value * size + d
        return value

    def decisions_of_code(self, code: int) -> tuple[int, ...]:
        if not 0 <= int(code) < self.n_cells:
            raise UserError(f"cell code {code!r} is out of range 0..{self.n_cells - 1}")
        code, digits = int(code), []
        for size in reversed(self.decision_sizes):
            code, digit = divmod(code, size)
            digits.append(digit)
        return tuple(reversed(digits))

    def sample_cell(self, rng: np.random.Generator) -> Hashable:
        return self.cell(self.sample_decisions(rng))

    def sample_path(self, rng: np.random.Generator) -> tuple[int, ...]:
        """The path of a uniformly sampled cell."""
        return self.path_of_decisions(self.sample_decisions(rng))

    def distinct_cells(self, n: int, rng: np.random.Generator) -> list[Hashable]:
        """``n`` different cells uniformly without replacement (all of them if ``n`` >= ``n_cells``)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise UserError(f"number of cells must be an int >= 0, got {n!r}")
        total = self.n_cells
        if total <= MAX_CODED_CELLS:
            codes = rng.choice(total, size=min(n, total), replace=False)
            return [self.cell(self.decisions_of_code(int(c))) for c in codes]
        found: dict[Hashable, None] = {}
        while len(found) < n:  # a space this large repeats a cell with negligible probability
            found.setdefault(self.sample_cell(rng), None)
        return list(found)

    # -- conversions -------------------------------------------------------------------------------------------
    @abstractmethod
    def decisions(self, cell: Hashable) -> tuple[int, ...]:
        """The decisions of a cell."""

    @abstractmethod
    def cell(self, decisions: Sequence[int]) -> Hashable:
        """The cell of some decisions."""

    @abstractmethod
    def path_of_decisions(self, decisions: Sequence[int]) -> tuple[int, ...]:
        """The path (a column or -1 per edge) of some decisions."""

    def path(self, cell: Hashable) -> tuple[int, ...]:
        return self.path_of_decisions(self.decisions(cell))

    @abstractmethod
    def discretize(self, alphas: np.ndarray) -> Hashable:
        """The cell the architecture weights stand for."""


class EdgeCellLayout(SupernetLayout):
    """A cell of fixed edges, each choosing one of its ops (NB201's and every declared edge cell). ``edge_ops``:
    each edge's ops, in the cell's edge order; ``make_cell``: the space's cell of a tuple of op names (one per
    edge, in that order), ``cell_ops`` its inverse."""

    def __init__(self, *, edges: Sequence[tuple[int, int]], edge_ops: Sequence[Sequence[str]], nodes: int,
                 widths: Sequence[int], zero_ops: frozenset[str], key: Callable[[Hashable], str],
                 make_cell: Callable[[tuple[str, ...]], Hashable] = tuple,
                 cell_ops: Callable[[Hashable], Sequence[str]] = tuple) -> None:
        ops: list[str] = []
        for names in edge_ops:
            ops.extend(op for op in names if op not in ops)
        self.ops = tuple(ops)
        self.edges = tuple(MixedEdge(0, frm, to, tuple(sorted(self.ops.index(op) for op in names)))
                           for (frm, to), names in zip(edges, edge_ops))
        self.zero_ops = frozenset(zero_ops)
        self.decision_sizes = tuple(len(e.columns) for e in self.edges)
        self.skeleton = EdgeCellSkeleton(nodes, tuple(widths), topological_order(nodes, edges))
        self.key, self._make_cell, self._cell_ops = key, make_cell, cell_ops

    def decisions(self, cell: Hashable) -> tuple[int, ...]:
        names = tuple(self._cell_ops(cell))
        if len(names) != len(self.edges):
            raise UserError(f"a cell has {len(self.edges)} edges, got {len(names)} ops: {names!r}")
        out = []
        for name, edge in zip(names, self.edges):
            offered = [self.ops[c] for c in edge.columns]
            if name not in offered:
                raise UserError(f"op {name!r} is not offered on edge {edge.frm}->{edge.to}; choices: "
                                f"{', '.join(offered)}")
            out.append(offered.index(name))
        return tuple(out)

    def cell(self, decisions: Sequence[int]) -> Hashable:
        d = self.check_decisions(decisions)
        return self._make_cell(tuple(self.ops[e.columns[i]] for e, i in zip(self.edges, d)))

    def path_of_decisions(self, decisions: Sequence[int]) -> tuple[int, ...]:
        return tuple(e.columns[i] for e, i in zip(self.edges, self.check_decisions(decisions)))

    def discretize(self, alphas: np.ndarray) -> Hashable:
        """The op of largest weight on every edge (ties: the first column)."""
        columns = self.masked(alphas).argmax(axis=1)
        return self._make_cell(tuple(self.ops[int(c)] for c in columns))


def topological_order(nodes: int, edges: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """The non-input nodes 1..nodes-1 with every ``(frm, to)`` edge's source first (the first ready node each time)."""
    done, order, pending = {0}, [], list(range(1, nodes))
    while pending:
        node = next((n for n in pending if all(f in done for f, t in edges if t == n)), None)
        if node is None:
            raise UserError(f"the cell's edges {list(edges)} do not form a DAG from node 0")
        order.append(node)
        done.add(node)
        pending.remove(node)
    return tuple(order)


class NodeInputLayout(SupernetLayout):
    """DARTS' cells: intermediate node j (``inputs`` .. ``inputs + intermediate - 1``) picks ``node_inputs`` of its
    predecessors, each with one of ``ops``. Rows: every edge i -> j of every cell type, by type, node, source.
    Decisions per type and node: the index of its input set among ``itertools.combinations(range(j), k)`` (only
    where there is more than one), then the op of each chosen input by source. A cell is the space's
    architecture: per type, per node, ``((op, from), ...)`` by source."""

    def __init__(self, *, ops: Sequence[str], zero_ops: frozenset[str], inputs: int, intermediate: int,
                 node_inputs: int, cell_types: int, stem_multiplier: int, reductions: int,
                 key: Callable[[Hashable], str]) -> None:
        self.ops, self.zero_ops = tuple(ops), frozenset(zero_ops)
        self.node_inputs, self.cell_types = node_inputs, cell_types
        self.nodes = tuple(range(inputs, inputs + intermediate))
        all_columns = tuple(range(len(self.ops)))
        self.edges = tuple(MixedEdge(t, i, j, all_columns, 2 if t == 1 and i < inputs else 1)
                           for t in range(cell_types) for j in self.nodes for i in range(j))
        self._row = {(e.cell_type, e.frm, e.to): row for row, e in enumerate(self.edges)}
        self._sets = {j: tuple(itertools.combinations(range(j), node_inputs)) for j in self.nodes}
        sizes: list[int] = []
        for _ in range(cell_types):
            for j in self.nodes:
                if len(self._sets[j]) > 1:
                    sizes.append(len(self._sets[j]))
                sizes.extend([len(self.ops)] * node_inputs)
        self.decision_sizes = tuple(sizes)
        self.skeleton = NodeInputSkeleton(inputs, intermediate, stem_multiplier, reductions, cell_types)
        self.key = key
        self._live = [c for c, op in enumerate(self.ops) if op not in self.zero_ops]

    def decisions(self, cell: Hashable) -> tuple[int, ...]:
        out: list[int] = []
        for cells in self._checked(cell):
            for j, node in zip(self.nodes, cells):
                froms = tuple(i for _, i in node)
                if froms not in self._sets[j]:
                    raise UserError(f"node {j} takes {self.node_inputs} distinct inputs among 0..{j - 1}, got {froms}")
                if len(self._sets[j]) > 1:
                    out.append(self._sets[j].index(froms))
                for op, _ in node:
                    if op not in self.ops:
                        raise UserError(f"op {op!r} is not a choice; choices: {', '.join(self.ops)}")
                    out.append(self.ops.index(op))
        return tuple(out)

    def _checked(self, cell: Hashable) -> tuple:
        cells = tuple(cell)  # type: ignore[arg-type]
        if len(cells) != self.cell_types or any(len(c) != len(self.nodes) for c in cells):
            raise UserError(f"a cell has {self.cell_types} cell type(s) of {len(self.nodes)} nodes, got {cell!r}")
        return cells

    def cell(self, decisions: Sequence[int]) -> Hashable:
        d = list(self.check_decisions(decisions))
        cells = []
        for _ in range(self.cell_types):
            nodes = []
            for j in self.nodes:
                froms = self._sets[j][d.pop(0)] if len(self._sets[j]) > 1 else self._sets[j][0]
                nodes.append(tuple((self.ops[d.pop(0)], i) for i in froms))
            cells.append(tuple(nodes))
        return tuple(cells)

    def path_of_decisions(self, decisions: Sequence[int]) -> tuple[int, ...]:
        path = [-1] * len(self.edges)
        for t, cells in enumerate(self.cell(decisions)):  # type: ignore[arg-type]
            for j, node in zip(self.nodes, cells):
                for op, i in node:
                    path[self._row[t, i, j]] = self.ops.index(op)
        return tuple(path)

    def discretize(self, alphas: np.ndarray) -> Hashable:
        """DARTS' genotype rule on softmax(alphas): per node, the ``node_inputs`` inputs whose strongest non-zero
        op weighs most (ties: the lower source), each with that op (ties: the first column)."""
        values = self.masked(alphas)
        weights = np.exp(values - values.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        if not self._live:
            raise UserError("DARTS' discretization needs a non-zero op among the cell's ops")
        live = weights[:, self._live]
        cells = []
        for t in range(self.cell_types):
            nodes = []
            for j in self.nodes:
                rows = [self._row[t, i, j] for i in range(j)]
                strength = [float(live[r].max()) for r in rows]
                chosen = sorted(sorted(range(j), key=lambda i: -strength[i])[:self.node_inputs])
                nodes.append(tuple((self.ops[self._live[int(live[rows[i]].argmax())]], i) for i in chosen))
            cells.append(tuple(nodes))
        return tuple(cells)
