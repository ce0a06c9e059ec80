"""Search spaces declared in one YAML file (``conf/search_space/<name>.yaml``), compiled to a ConfigSpace, a
``SearchSpace`` and a PyTorch network builder (``nas_exp/models/declared_network.py``).

A cell space (docs/spaces.md, "Declared spaces")::

    _target_: nas_exp.search_spaces.declared.DeclaredCellSpace
    name: my_cell                  # = the file's name (the search_space option)
    benchmark: null                # or nb201: its architectures are rows of that table
    cell:
      nodes: 4                     # node 0 is the cell's input, the last node its output
      combine: sum                 # a node is the sum of its input edges
      ops: [none, skip_connect, nor_conv_3x3]   # every edge's choices (ops of nas_exp/models/registry.py)
      edges:                       # "from->to", or {edge: "from->to", ops: [...]} for an edge's own choices
        - 0->1
        - {edge: 0->2, ops: [skip_connect, nor_conv_3x3]}
        - 1->2
        - 2->3
    macro:
      stem: conv3x3_bn             # Conv3x3(dataset channels -> C) + BN
      widths: [1, 2, 4]            # one stage per entry with width * C channels, N cells each (evaluation.N)
      reduction: resnet_basic      # between stages: NB201's residual block, stride 2
      head: bn_relu_pool_linear    # BN -> ReLU -> global average pool -> Linear(dataset classes)

Every edge is one categorical hyperparameter ``edge_<to>_<from>`` (the op ``none``, if offered, is its ``absent``
value). An architecture is the tuple of the edges' ops in declaration order; its key lists each node's inputs
``|op~from|...`` joined by ``+`` (nodes in order, inputs by source node): for NB201's cell that is NB201's official
string. A bad declaration is one ``UserError`` line naming the file and the key.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ConfigSpace import Categorical, Configuration, ConfigurationSpace
from omegaconf import DictConfig, ListConfig, OmegaConf

from nas_exp.errors import UserError
from nas_exp.feature_encoders import FeatureEncoder
from nas_exp.search_spaces.base import CELL_DAG, FINITE, NETWORK, PATHS, TABULAR, SearchSpace
from nas_exp.search_spaces.supernet_layout import EdgeCellLayout

COMBINES = ("sum",)
STEMS = ("conv3x3_bn",)
REDUCTIONS = ("resnet_basic",)
HEADS = ("bn_relu_pool_linear",)
BENCHMARKS = ("nb201",)
_EDGE_RE = re.compile(r"^\s*(-?\d+)\s*->\s*(-?\d+)\s*$")
_KEY_INPUT_RE = re.compile(r"^([A-Za-z0-9_]+)~(\d+)$")
_TOP_KEYS = ("_target_", "name", "benchmark", "cell", "macro", "seed", "source")
_CELL_KEYS = ("choice", "nodes", "combine", "ops", "edges")
_MACRO_KEYS = ("skeleton", "stem", "widths", "reduction", "head")


class DeclarationError(UserError):
    """A bad space declaration: one line naming the file and the key."""


@dataclass(frozen=True)
class Edge:
    frm: int
    to: int
    ops: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"edge_{self.to}_{self.frm}"


@dataclass(frozen=True)
class Macro:
    stem: str
    widths: tuple[int, ...]
    reduction: str
    head: str


@dataclass(frozen=True)
class CellDeclaration:
    """A compiled cell space: what the ConfigSpace, the keys and the network are built from."""

    name: str
    source: str
    nodes: int
    combine: str
    edges: tuple[Edge, ...]
    macro: Macro
    benchmark: str | None

    @property
    def output(self) -> int:
        return self.nodes - 1

    def inputs_of(self, node: int) -> tuple[tuple[int, Edge], ...]:
        """(edge position, edge) of every edge into ``node``, by source node."""
        found = [(pos, e) for pos, e in enumerate(self.edges) if e.to == node]
        return tuple(sorted(found, key=lambda item: item[1].frm))


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


class _Checker:
    """Raises ``DeclarationError("<source>: <key>: <what>")``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, what: str) -> DeclarationError:
        return DeclarationError(f"{self.source}: {key}: {what}")

    def mapping(self, value: Any, key: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping with keys {', '.join(allowed)}, got {value!r}")
        unknown = [str(k) for k in value if k not in allowed]
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                            f"unknown key; valid keys: {', '.join(allowed)}")
        return dict(value)

    def integer(self, value: Any, key: str, low: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, f"must be an int >= {low} ({what}), got {value!r}")
        return value

    def space_name(self, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise self.fail("name", f"must be the space's name (letters, digits, _), got {value!r}")
        return value

    def choice(self, value: Any, key: str, valid: Sequence[str]) -> str:
        if value not in valid:
            raise self.fail(key, f"unknown value {value!r}; valid: {', '.join(valid)}")
        return value

    def ops(self, value: Any, key: str) -> tuple[str, ...]:
        from nas_exp.models.registry import OP_REGISTRY, registered_ops

        if not isinstance(value, (list, tuple)):
            raise self.fail(key, f"must be a list of op names, got {value!r}")
        if not value:
            raise self.fail(key, "the op list is empty; an edge needs at least one op")
        for i, op in enumerate(value):
            if op not in OP_REGISTRY:
                raise self.fail(f"{key}[{i}]", f"unknown op {op!r}; registered ops: {', '.join(registered_ops())}")
        if len(set(value)) != len(value):
            dup = next(op for op in value if list(value).count(op) > 1)
            raise self.fail(key, f"op {dup!r} is listed twice")
        return tuple(value)


def compile_cell(declaration: Mapping[str, Any], source: str) -> CellDeclaration:
    """The checked ``CellDeclaration`` of a YAML mapping (``source``: the file, for error messages)."""
    check = _Checker(source)
    top = check.mapping(_plain(declaration), "", _TOP_KEYS)
    name = check.space_name(top.get("name"))
    benchmark = top.get("benchmark")
    if benchmark is not None:
        check.choice(benchmark, "benchmark", BENCHMARKS)
    if "cell" not in top:
        raise check.fail("cell", "missing; a cell space declares its cell (nodes, combine, ops, edges)")
    if isinstance(top["cell"], Mapping):
        choice = check.choice(top["cell"].get("choice", "edge_ops"), "cell.choice", ("edge_ops", "node_inputs"))
        if choice == "node_inputs":
            raise check.fail("cell.choice", "node_inputs cells are compiled by declared_inputs.compile_node_inputs")
    cell = check.mapping(top["cell"], "cell", _CELL_KEYS)
    nodes = check.integer(cell.get("nodes"), "cell.nodes", 2, "the input node 0 and the output node")
    combine = check.choice(cell.get("combine", "sum"), "cell.combine", COMBINES)
    default_ops = check.ops(cell["ops"], "cell.ops") if "ops" in cell else None
    raw_edges = cell.get("edges")
    if not isinstance(raw_edges, list) or not raw_edges:
        raise check.fail("cell.edges", f"must be a non-empty list of 'from->to' edges, got {raw_edges!r}")
    edges: list[Edge] = []
    seen: dict[tuple[int, int], int] = {}
    for i, item in enumerate(raw_edges):
        key = f"cell.edges[{i}]"
        ops = default_ops
        if isinstance(item, Mapping):
            entry = check.mapping(item, key, ("edge", "ops"))
            if "ops" in entry:
                ops = check.ops(entry["ops"], f"{key}.ops")
            item = entry.get("edge")
        match = _EDGE_RE.match(item) if isinstance(item, str) else None
        if match is None:
            raise check.fail(key, f"an edge is 'from->to' (e.g. 0->1), got {item!r}")
        frm, to = int(match.group(1)), int(match.group(2))
        for end, node in (("from", frm), ("to", to)):
            if not 0 <= node < nodes:
                raise check.fail(key, f"edge {frm}->{to} {'leaves' if end == 'from' else 'leads to'} missing node "
                                      f"{node} (cell.nodes={nodes}: nodes 0..{nodes - 1})")
        if to == 0:
            raise check.fail(key, f"edge {frm}->{to} leads into node 0, the cell's input")
        if frm == nodes - 1:
            raise check.fail(key, f"edge {frm}->{to} leaves node {frm}, the cell's output")
        if (frm, to) in seen:
            raise check.fail(key, f"edge {frm}->{to} is declared twice (also cell.edges[{seen[frm, to]}])")
        if ops is None:
            raise check.fail(f"{key}.ops", "no ops: give the edge its ops or the cell a default list (cell.ops)")
        seen[frm, to] = i
        edges.append(Edge(frm, to, ops))
    _check_graph(check, nodes, edges)
    macro = _compile_macro(check, top.get("macro"))
    decl = CellDeclaration(name=name, source=source, nodes=nodes, combine=combine, edges=tuple(edges),
                           macro=macro, benchmark=benchmark)
    if benchmark == "nb201":
        _check_nb201(check, decl)
    return decl


def _check_graph(check: _Checker, nodes: int, edges: Sequence[Edge]) -> None:
    """A DAG in which every node gets an input and reaches the output."""
    succ: dict[int, list[int]] = {n: [] for n in range(nodes)}
    for e in edges:
        succ[e.frm].append(e.to)
    state: dict[int, int] = {}  # 1: on the stack, 2: done

    def visit(node: int, path: list[int]) -> None:
        state[node] = 1
        for nxt in succ[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
                raise check.fail("cell.edges", f"the edges form a cycle {'->'.join(map(str, cycle))}; a cell is a DAG")
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in range(nodes):
        if node not in state:
            visit(node, [])
    has_input = {e.to for e in edges}
    for node in range(1, nodes):
        if node not in has_input:
            raise check.fail("cell.edges", f"node {node} has no input edge")
    reaches = {nodes - 1}
    changed = True
    while changed:
        changed = False
        for e in edges:
            if e.to in reaches and e.frm not in reaches:
                reaches.add(e.frm)
                changed = True
    for node in range(nodes - 1):
        if node not in reaches:
            raise check.fail("cell.edges", f"node {node} does not reach the output node {nodes - 1}")


def _compile_macro(check: _Checker, value: Any) -> Macro:
    if value is None:
        raise check.fail("macro", "missing; a cell space declares its network skeleton (stem, widths, reduction, "
                                  "head)")
    macro = check.mapping(value, "macro", _MACRO_KEYS)
    if macro.get("skeleton", "nb201") != "nb201":
        raise check.fail("macro.skeleton", f"edge-choice cells are stacked by the nb201 skeleton (skeleton: nb201), "
                                           f"got {macro.get('skeleton')!r}; the darts skeleton needs cell.choice: "
                                           f"node_inputs")
    stem = check.choice(macro.get("stem", STEMS[0]), "macro.stem", STEMS)
    reduction = check.choice(macro.get("reduction", REDUCTIONS[0]), "macro.reduction", REDUCTIONS)
    head = check.choice(macro.get("head", HEADS[0]), "macro.head", HEADS)
    widths = macro.get("widths", [1, 2, 4])
    if not isinstance(widths, list) or not widths:
        raise check.fail("macro.widths", f"must be a non-empty list of channel multipliers of C, got {widths!r}")
    for i, w in enumerate(widths):
        check.integer(w, f"macro.widths[{i}]", 1, "a multiple of C")
    return Macro(stem=stem, widths=tuple(widths), reduction=reduction, head=head)


def _check_nb201(check: _Checker, decl: CellDeclaration) -> None:
    from nas_exp.search_spaces.nb201 import EDGES, OPS

    declared = {(e.to, e.frm) for e in decl.edges}
    if decl.nodes != 4 or declared != set(EDGES):
        raise check.fail("benchmark", "nb201 rows are cells of 4 nodes with the 6 edges "
                                      f"{', '.join(f'{f}->{t}' for t, f in EDGES)}; this cell differs")
    for i, e in enumerate(decl.edges):
        extra = [op for op in e.ops if op not in OPS]
        if extra:
            raise check.fail(f"cell.edges[{i}]", f"op {extra[0]!r} is not in the nb201 table (its ops: "
                                                 f"{', '.join(OPS)})")
    if decl.macro != Macro("conv3x3_bn", (1, 2, 4), "resnet_basic", "bn_relu_pool_linear"):
        raise check.fail("benchmark", "nb201 rows were trained with NB201's skeleton (macro: conv3x3_bn, widths "
                                      "[1, 2, 4], resnet_basic, bn_relu_pool_linear)")


def load_declaration(path: str | Path) -> dict[str, Any]:
    """The mapping of a declaration file."""
    path = Path(path)
    try:
        loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except FileNotFoundError:
        raise DeclarationError(f"{path}: no such declaration file") from None
    except Exception as err:  # noqa: BLE001 - a YAML syntax error, said in one line
        raise DeclarationError(f"{path}: not a valid YAML file ({str(err).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise DeclarationError(f"{path}: a declaration is a mapping, got {type(loaded).__name__}")
    return loaded


def _hydra_source(name: str) -> str:
    """The file of search_space option ``name`` in this Hydra run's search path, else ``search_space/<name>.yaml``."""
    try:
        from hydra.core.hydra_config import HydraConfig

        for src in HydraConfig.get().runtime.config_sources:
            if src.schema == "file":
                candidate = Path(src.path) / "search_space" / f"{name}.yaml"
                if candidate.is_file():
                    return str(candidate)
    except Exception:  # noqa: BLE001 - outside a Hydra run
        pass
    return f"search_space/{name}.yaml"


class DeclaredCellSpace(SearchSpace):
    """A cell space of a declaration: one categorical per edge; networks from ``DeclaredNetwork``; rows of the
    named benchmark; one-shot supernets from ``supernet_layout`` (``CELL_DAG``)."""

    capabilities = frozenset({NETWORK, FINITE, PATHS, CELL_DAG})  # what a declared cell space can have; see __init__

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """A declaration with ``cell.choice: node_inputs`` (DARTS' cells) is a ``NodeInputCellSpace``."""
        cell = _plain(kwargs.get("cell"))
        if cls is DeclaredCellSpace and isinstance(cell, Mapping) and cell.get("choice") == "node_inputs":
            from nas_exp.search_spaces.declared_inputs import NodeInputCellSpace

            return NodeInputCellSpace(*args, **kwargs)
        return super().__new__(cls)

    @classmethod
    def capabilities_for(cls, settings: Mapping[str, Any]) -> frozenset[str]:
        """As ``__init__`` sets them: DARTS-style cells (``choice: node_inputs``) only build networks; an edge cell
        is finite, tabular where it names a benchmark; every declared cell carries a one-shot supernet."""
        cell = _plain(settings.get("cell"))
        if isinstance(cell, Mapping) and cell.get("choice") == "node_inputs":
            from nas_exp.search_spaces.declared_inputs import NodeInputCellSpace

            return NodeInputCellSpace.capabilities
        benchmark = settings.get("benchmark")
        return frozenset({NETWORK, FINITE, PATHS, CELL_DAG, *((TABULAR,) if benchmark else ())})

    def __init__(self, name: str | None = None, cell: Any = None, macro: Any = None, benchmark: str | None = None,
                 seed: int | None = None, source: str | None = None, **unknown: Any) -> None:
        source = source or _hydra_source(str(name))
        if unknown:
            raise DeclarationError(f"{source}: {next(iter(unknown))}: unknown key; valid keys: {', '.join(_TOP_KEYS)}")
        declaration = {"name": name, "benchmark": benchmark, "cell": _plain(cell), "macro": _plain(macro)}
        declaration = {k: v for k, v in declaration.items() if v is not None or k == "name"}
        self.decl = compile_cell(declaration, source)
        self.name = self.decl.name
        caps = {NETWORK, FINITE, PATHS, CELL_DAG}
        if self.decl.benchmark is not None:
            caps.add(TABULAR)
        self.capabilities = frozenset(caps)
        self.edge_names = tuple(e.name for e in self.decl.edges)
        self.configspace = ConfigurationSpace(name=self.name, seed=seed, space=[
            Categorical(e.name, e.ops, meta={"absent": op} if (op := _zero_op(e.ops)) else None)
            for e in self.decl.edges])

    @classmethod
    def from_yaml(cls, path: str | Path, seed: int | None = None) -> DeclaredCellSpace:
        values = load_declaration(path)
        values.pop("_target_", None)
        values.pop("source", None)
        if "name" not in values:
            raise DeclarationError(f"{path}: name: missing; a declaration names its space (= the file's name)")
        extra = [k for k in values if k not in _TOP_KEYS]
        if extra:
            raise DeclarationError(f"{path}: {extra[0]}: unknown key; valid keys: {', '.join(_TOP_KEYS)}")
        return cls(**values, seed=seed, source=str(path))

    def __len__(self) -> int:
        size = 1
        for e in self.decl.edges:
            size *= len(e.ops)
        return size

    # -- converters ---------------------------------------------------------------------------------------------
    def _check_arch(self, arch: Sequence[str]) -> tuple[str, ...]:
        arch = tuple(arch)
        if len(arch) != len(self.decl.edges):
            raise UserError(f"a {self.name} cell has {len(self.decl.edges)} edges, got {len(arch)} ops: {arch!r}")
        for op, e in zip(arch, self.decl.edges):
            if op not in e.ops:
                raise UserError(f"op {op!r} is not a choice of {e.name} in {self.name}; choices: {', '.join(e.ops)}")
        return arch

    def to_config(self, arch: Sequence[str]) -> Configuration:
        return Configuration(self.configspace, values=dict(zip(self.edge_names, self._check_arch(arch))))

    def from_config(self, config: Configuration | Mapping[str, Any]) -> tuple[str, ...]:
        values = dict(config)
        missing = [n for n in self.edge_names if n not in values]
        if missing:
            raise UserError(f"configuration lacks {self.name} edge(s) {', '.join(missing)}; it has {sorted(values)}")
        return self._check_arch(values[n] for n in self.edge_names)

    def key(self, arch: Sequence[str]) -> str:
        arch = tuple(arch)
        parts = []
        for node in range(1, self.decl.nodes):
            inputs = self.decl.inputs_of(node)
            parts.append("|" + "|".join(f"{arch[pos]}~{e.frm}" for pos, e in inputs) + "|")
        return "+".join(parts)

    def from_key(self, key: str) -> tuple[str, ...]:
        parts = key.split("+") if isinstance(key, str) else []
        if len(parts) != self.decl.nodes - 1:
            raise UserError(f"malformed {self.name} key {key!r}: expected {self.decl.nodes - 1} nodes joined by '+'")
        ops: list[str | None] = [None] * len(self.decl.edges)
        for node, part in enumerate(parts, start=1):
            inputs = self.decl.inputs_of(node)
            items = part[1:-1].split("|") if len(part) >= 2 and part[0] == part[-1] == "|" else None
            if items is None or len(items) != len(inputs):
                raise UserError(f"malformed {self.name} key {key!r}: node {node} needs {len(inputs)} inputs "
                                f"'|op~from|...', got {part!r}")
            for item, (pos, e) in zip(items, inputs):
                match = _KEY_INPUT_RE.match(item)
                if match is None or int(match.group(2)) != e.frm:
                    raise UserError(f"malformed {self.name} key {key!r}: node {node} input {item!r} is not "
                                    f"'op~{e.frm}'")
                ops[pos] = match.group(1)
        return self._check_arch(ops)  # type: ignore[arg-type]

    # -- capabilities -------------------------------------------------------------------------------------------
    def canonical_archs(self) -> Iterator[tuple[str, ...]]:
        return itertools.product(*(e.ops for e in self.decl.edges))

    def path_encoder(self) -> FeatureEncoder:
        """The cell's input-to-output paths as binary features (``PATHS``, every edge cell; ``cell_paths.py``;
        nb201_declared: NB201's 84)."""
        self.require(PATHS, "encode its configurations by paths (optimizer.encoding=path)")
        from nas_exp.search_spaces.cell_paths import CellPathEncoder

        return CellPathEncoder(self)

    def _nb201_arch(self, arch: Sequence[str]) -> Any:
        from nas_exp.search_spaces.nb201 import EDGES, Arch

        by_edge = {(e.to, e.frm): op for e, op in zip(self.decl.edges, self._check_arch(arch))}
        return Arch(by_edge[edge] for edge in EDGES)

    def table_index(self, arch: Sequence[str]) -> int:
        self.require(TABULAR, "be looked up in a table")
        return self._nb201_arch(arch).index

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        self.require(TABULAR, "be looked up in a table")
        from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

        return NB201Benchmark(source=source, root=root)

    def supernet_layout(self) -> EdgeCellLayout:
        """The declared cell's edges (declaration order) with their ops, stacked by the declared widths."""
        d = self.decl
        return EdgeCellLayout(edges=[(e.frm, e.to) for e in d.edges], edge_ops=[e.ops for e in d.edges],
                              nodes=d.nodes, widths=d.macro.widths,
                              zero_ops=_zero_ops(op for e in d.edges for op in e.ops),
                              key=self.key)

    def build_network(self, arch: Sequence[str], seed: int, C: int, N: int, num_classes: int,
                      in_channels: int = 3) -> Any:
        from nas_exp.models.declared_network import seeded_declared_network

        return seeded_declared_network(self.decl, self._check_arch(arch), seed, C=C, N=N, num_classes=num_classes,
                                       in_channels=in_channels)


def _zero_ops(ops: Iterable[str]) -> frozenset[str]:
    """The ops among ``ops`` whose output is always zero (``none``)."""
    from nas_exp.models.registry import is_zero_op

    return frozenset(op for op in ops if is_zero_op(op))


def _zero_op(ops: Sequence[str]) -> str | None:
    from nas_exp.models.registry import is_zero_op

    return next((op for op in ops if is_zero_op(op)), None)
