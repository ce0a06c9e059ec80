"""Node-input-choice cell spaces (DARTS' CNN cell, Liu et al. 2019) in the space language: ``cell.choice:
node_inputs`` in a declaration (``conf/search_space/darts.yaml``; the language: ``declared.py``).

A cell has ``inputs`` input nodes (0 = c_{k-2}, 1 = c_{k-1}: the outputs of the two previous cells, preprocessed
to C channels) and ``intermediate`` nodes; intermediate node j picks ``node_inputs`` distinct nodes among its
predecessors 0..j-1, each with an op of ``ops``, and sums them (``combine: sum``); the cell's output is the
concatenation of all intermediate nodes (``output: concat``). ``types: [normal, reduction]`` gives normal and
reduction cells choices of their own (``[normal]``: reduction cells use the normal cell's); in a reduction cell the
ops on edges from the input nodes have stride 2.

ConfigSpace: per cell type t and intermediate node j, one categorical ``<t>_edge_<j>_<i>`` per predecessor i (the
op on edge i->j, NB301's layout) and, where j has more predecessors than it picks, one categorical
``<t>_inputs_<j>`` whose values are the sets of predecessors it takes (``"0_2"``: nodes 0 and 2). An edge's op is
active only when its source is among the node's inputs: an ``InCondition`` on ``<t>_inputs_<j>``. A set of inputs
(one categorical, in source order) rather than one categorical per input slot: no two configurations are the same
cell and no forbidden clause is needed (two slots would need ``ForbiddenEqualsRelation`` for equal inputs and still
count each pair twice).

An architecture is a tuple over cell types of a tuple over intermediate nodes of ``((op, from), ...)`` by source;
its key is ``<t>=<node>+<node>...`` per type, joined by ``;``, with a node written ``|op~from|op~from|`` (NB201's
notation). ``from_genotype`` reads DARTS' ``Genotype`` lists. The network: ``nas_exp/models/darts_network.py``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ConfigSpace import Categorical, Configuration, ConfigurationSpace, InCondition

from nas_exp.errors import UserError
from nas_exp.search_spaces.base import CELL_DAG, NETWORK, SearchSpace
from nas_exp.search_spaces.supernet_layout import NodeInputLayout, darts_layers, darts_reduction_layers
from nas_exp.search_spaces.declared import _TOP_KEYS, DeclarationError, _Checker, _plain, _zero_op, _zero_ops

CELL_KEYS = ("choice", "inputs", "intermediate", "node_inputs", "combine", "output", "ops", "types")
MACRO_KEYS = ("skeleton", "stem", "stem_multiplier", "reductions", "head")
TYPES = ("normal", "reduction")
_KEY_INPUT_RE = re.compile(r"^([A-Za-z0-9_]+)~(\d+)$")


@dataclass(frozen=True)
class DartsMacro:
    """stem conv3x3 to stem_multiplier * C channels; (reductions + 1) * N + reductions cells with reduction cells
    (stride 2, channels doubled) at k * layers // (reductions + 1); global average pool + Linear."""

    stem: str
    stem_multiplier: int
    reductions: int
    head: str

    def layers(self, N: int) -> int:
        """Cells in all: N normal cells per stage, a reduction cell between stages (DARTS' 20 layers: N=6)."""
        return darts_layers(self.reductions, N)

    def reduction_layers(self, layers: int) -> tuple[int, ...]:
        return darts_reduction_layers(self.reductions, layers)


@dataclass(frozen=True)
class NodeInputDeclaration:
    name: str
    source: str
    inputs: int
    intermediate: int
    node_inputs: int
    combine: str
    output: str
    ops: tuple[str, ...]
    types: tuple[str, ...]
    macro: DartsMacro

    @property
    def nodes(self) -> range:
        """The intermediate nodes' numbers."""
        return range(self.inputs, self.inputs + self.intermediate)

    def input_sets(self, node: int) -> tuple[tuple[int, ...], ...]:
        return tuple(itertools.combinations(range(node), self.node_inputs))


def compile_node_inputs(declaration: Mapping[str, Any], source: str) -> NodeInputDeclaration:
    """The checked declaration of a node-input-choice cell space (``cell.choice: node_inputs``)."""
    check = _Checker(source)
    top = check.mapping(_plain(declaration), "", _TOP_KEYS)
    name = check.space_name(top.get("name"))
    if top.get("benchmark") is not None:
        raise check.fail("benchmark", "no benchmark table holds node-input-choice cells (train mode only); use null")
    cell = check.mapping(top["cell"], "cell", CELL_KEYS)
    check.choice(cell.get("choice"), "cell.choice", ("edge_ops", "node_inputs"))
    inputs = check.integer(cell.get("inputs", 2), "cell.inputs", 2, "the cell's input nodes c_{k-2}, c_{k-1}")
    if inputs != 2:
        raise check.fail("cell.inputs", f"must be 2 (the darts skeleton feeds a cell the two previous cells' "
                                        f"outputs), got {inputs}")
    intermediate = check.integer(cell.get("intermediate"), "cell.intermediate", 1, "the nodes each cell computes")
    node_inputs = check.integer(cell.get("node_inputs", 2), "cell.node_inputs", 1, "inputs each node picks")
    if node_inputs > inputs:
        raise check.fail("cell.node_inputs", f"the first intermediate node has {inputs} predecessors and cannot pick "
                                             f"{node_inputs} of them")
    combine = check.choice(cell.get("combine", "sum"), "cell.combine", ("sum",))
    output = check.choice(cell.get("output", "concat"), "cell.output", ("concat",))
    if "ops" not in cell:
        raise check.fail("cell.ops", "missing; the ops every chosen input may carry")
    ops = check.ops(cell["ops"], "cell.ops")
    types = cell.get("types", list(TYPES))
    if types not in (["normal"], ["normal", "reduction"]):
        raise check.fail("cell.types", f"must be [normal, reduction] (separate choices) or [normal] (reduction cells "
                                       f"use the normal cell's), got {types!r}")
    macro = _compile_darts_macro(check, top.get("macro"))
    return NodeInputDeclaration(name=name, source=source, inputs=inputs, intermediate=intermediate,
                                node_inputs=node_inputs, combine=combine, output=output, ops=ops, types=tuple(types),
                                macro=macro)


def _compile_darts_macro(check: _Checker, value: Any) -> DartsMacro:
    if value is None:
        raise check.fail("macro", "missing; a cell space declares its network skeleton (skeleton: darts, stem, "
                                  "stem_multiplier, reductions, head)")
    macro = check.mapping(value, "macro", MACRO_KEYS)
    if macro.get("skeleton") != "darts":
        raise check.fail("macro.skeleton", f"node-input-choice cells are stacked by the darts skeleton (skeleton: "
                                           f"darts), got {macro.get('skeleton')!r}")
    stem = check.choice(macro.get("stem", "conv3x3_bn"), "macro.stem", ("conv3x3_bn",))
    head = check.choice(macro.get("head", "pool_linear"), "macro.head", ("pool_linear",))
    multiplier = check.integer(macro.get("stem_multiplier", 3), "macro.stem_multiplier", 1,
                      "the stem's channels in units of C")
    reductions = check.integer(macro.get("reductions", 2), "macro.reductions", 0, "reduction cells")
    return DartsMacro(stem=stem, stem_multiplier=multiplier, reductions=reductions, head=head)


def from_genotype(normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]] | None = None,
                  node_inputs: int = 2) -> tuple:
    """The architecture of a DARTS ``Genotype`` (``normal``/``reduce``: ``node_inputs`` (op, input) pairs per
    node, nodes in order; ``*_concat`` is always all intermediate nodes here)."""
    cells = [normal] if reduce is None else [normal, reduce]
    return tuple(tuple(tuple(sorted(((op, int(i)) for op, i in cell[k:k + node_inputs]), key=lambda p: p[1]))
                       for k in range(0, len(cell), node_inputs)) for cell in cells)


class NodeInputCellSpace(SearchSpace):
    """A node-input-choice cell space (``DeclaredCellSpace`` of a declaration with ``cell.choice: node_inputs``):
    ConfigSpace with conditions, networks from ``DartsNetwork``, DARTS' search supernet (``supernet_layout``);
    no table, not enumerated (not ``FINITE``)."""

    capabilities = frozenset({NETWORK, CELL_DAG})

    def __init__(self, name: str | None = None, cell: Any = None, macro: Any = None, benchmark: str | None = None,
                 seed: int | None = None, source: str | None = None, **unknown: Any) -> None:
        from nas_exp.search_spaces.declared import _hydra_source

        source = source or _hydra_source(str(name))
        if unknown:
            raise DeclarationError(f"{source}: {next(iter(unknown))}: unknown key; valid keys: {', '.join(_TOP_KEYS)}")
        declaration = {"name": name, "benchmark": benchmark, "cell": _plain(cell), "macro": _plain(macro)}
        self.decl = compile_node_inputs({k: v for k, v in declaration.items() if v is not None or k == "name"},
                                        source)
        self.name = self.decl.name
        d = self.decl
        hps: list[Any] = []
        conditions: list[InCondition] = []
        absent = _zero_op(d.ops)
        for t in d.types:
            for j in d.nodes:
                sets = d.input_sets(j)
                parent = None
                if len(sets) > 1:
                    parent = Categorical(f"{t}_inputs_{j}", ["_".join(map(str, s)) for s in sets])
                    hps.append(parent)
                for i in range(j):
                    edge = Categorical(f"{t}_edge_{j}_{i}", d.ops, meta={"absent": absent} if absent else None)
                    hps.append(edge)
                    if parent is not None:
                        conditions.append(InCondition(edge, parent, ["_".join(map(str, s)) for s in sets if i in s]))
        self.configspace = ConfigurationSpace(name=self.name, seed=seed)
        self.configspace.add(hps)
        self.configspace.add(conditions)

    def __len__(self) -> int:
        d = self.decl
        per_cell = math.prod(len(d.input_sets(j)) * len(d.ops) ** d.node_inputs for j in d.nodes)
        return per_cell ** len(d.types)

    # -- converters ---------------------------------------------------------------------------------------------
    def _check_arch(self, arch: Any) -> tuple:
        d = self.decl
        try:
            arch = tuple(tuple(tuple((str(op), int(i)) for op, i in node) for node in cell) for cell in arch)
        except (TypeError, ValueError):
            raise UserError(f"a {self.name} architecture is a tuple per cell type of ((op, from), ...) per node, "
                            f"got {arch!r}") from None
        if len(arch) != len(d.types) or any(len(cell) != d.intermediate for cell in arch):
            raise UserError(f"a {self.name} architecture has {len(d.types)} cell(s) ({', '.join(d.types)}) of "
                            f"{d.intermediate} nodes, got {arch!r}")
        out = []
        for t, cell in zip(d.types, arch):
            nodes = []
            for j, node in zip(d.nodes, cell):
                node = tuple(sorted(node, key=lambda p: p[1]))
                froms = tuple(i for _, i in node)
                if froms not in d.input_sets(j):
                    raise UserError(f"{t} node {j} of {self.name} takes {d.node_inputs} distinct inputs among nodes "
                                    f"0..{j - 1}, got {froms}")
                bad = [op for op, _ in node if op not in d.ops]
                if bad:
                    raise UserError(f"op {bad[0]!r} is not a choice of {self.name}; choices: {', '.join(d.ops)}")
                nodes.append(node)
            out.append(tuple(nodes))
        return tuple(out)

    def to_config(self, arch: Any) -> Configuration:
        values: dict[str, Any] = {}
        for t, cell in zip(self.decl.types, self._check_arch(arch)):
            for j, node in zip(self.decl.nodes, cell):
                if len(self.decl.input_sets(j)) > 1:
                    values[f"{t}_inputs_{j}"] = "_".join(str(i) for _, i in node)
                values.update({f"{t}_edge_{j}_{i}": op for op, i in node})
        return Configuration(self.configspace, values=values)

    def from_config(self, config: Configuration | Mapping[str, Any]) -> tuple:
        values = dict(config)
        cells = []
        for t in self.decl.types:
            nodes = []
            for j in self.decl.nodes:
                sets = self.decl.input_sets(j)
                if len(sets) > 1:
                    chosen = values.get(f"{t}_inputs_{j}")
                    if chosen is None:
                        raise UserError(f"configuration lacks {self.name} hyperparameter {t}_inputs_{j}")
                    froms = tuple(int(i) for i in str(chosen).split("_"))
                else:
                    froms = sets[0]
                missing = [f"{t}_edge_{j}_{i}" for i in froms if f"{t}_edge_{j}_{i}" not in values]
                if missing:
                    raise UserError(f"configuration lacks {self.name} hyperparameter(s) {', '.join(missing)}")
                nodes.append(tuple((values[f"{t}_edge_{j}_{i}"], i) for i in froms))
            cells.append(tuple(nodes))
        return self._check_arch(cells)

    def key(self, arch: Any) -> str:
        arch = self._check_arch(arch)
        return ";".join(f"{t}=" + "+".join("|" + "|".join(f"{op}~{i}" for op, i in node) + "|" for node in cell)
                        for t, cell in zip(self.decl.types, arch))

    def from_key(self, key: str) -> tuple:
        parts = key.split(";") if isinstance(key, str) else []
        if len(parts) != len(self.decl.types):
            raise UserError(f"malformed {self.name} key {key!r}: expected {len(self.decl.types)} cell(s) "
                            f"'<type>=<node>+...' joined by ';'")
        cells = []
        for t, part in zip(self.decl.types, parts):
            if not part.startswith(f"{t}="):
                raise UserError(f"malformed {self.name} key {key!r}: expected '{t}=' before {part!r}")
            nodes = []
            for node in part[len(t) + 1:].split("+"):
                items = node[1:-1].split("|") if len(node) >= 2 and node[0] == node[-1] == "|" else []
                matches = [_KEY_INPUT_RE.match(item) for item in items]
                if not matches or any(m is None for m in matches):
                    raise UserError(f"malformed {self.name} key {key!r}: a node is '|op~from|op~from|', got {node!r}")
                nodes.append(tuple((m.group(1), int(m.group(2))) for m in matches))  # type: ignore[union-attr]
            cells.append(tuple(nodes))
        return self._check_arch(cells)

    def supernet_layout(self) -> NodeInputLayout:
        """DARTS' search cell: every edge i -> j of each cell type offering every op; cells by DARTS' rule."""
        d = self.decl
        return NodeInputLayout(ops=d.ops, zero_ops=_zero_ops(d.ops),
                               inputs=d.inputs, intermediate=d.intermediate, node_inputs=d.node_inputs,
                               cell_types=len(d.types), stem_multiplier=d.macro.stem_multiplier,
                               reductions=d.macro.reductions, key=self.key)

    def build_network(self, arch: Any, seed: int, C: int, N: int, num_classes: int, in_channels: int = 3) -> Any:
        from nas_exp.models.darts_network import seeded_darts_network

        return seeded_darts_network(self.decl, self._check_arch(arch), seed, C=C, N=N, num_classes=num_classes,
                                    in_channels=in_channels)
