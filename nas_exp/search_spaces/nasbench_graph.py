"""NAS-Bench-Graph (Qin et al. 2022): a GNN cell of 4 computing nodes, each with one input (the cell input or an
earlier node) and one op; leaf nodes feed the output.

A configuration is ``link`` (one of the benchmark's 9 link patterns, written ``"0,0,1,2"``: the input of each node,
0 = the cell input, k = node k) and ``op_1 .. op_4`` (the op of each node; 9 ops, or 5 on ``proteins``, whose
results only exist for that smaller op list). Many configurations are the same network (isomorphic DAGs, skip ops
that can be moved); the benchmark canonicalises them with ``nas_bench_graph.Arch(link, ops).valid_hash()``
(regularize + move_skip_op + equalpart_sort + hash_arch) and stores one result per canonical architecture: 26,206
with 9 ops, 2,021 of them reachable with the 5 proteins ops.

Here an architecture (``GraphArch``) is that canonical form, decoded from its hash, so ``from_config`` maps every
configuration to the canonical architecture (equivalent configurations share it and its table row) and
``to_config`` writes the canonical form back as a configuration. The one configuration family the benchmark has no
result for, all four ops ``skip`` (the identity network, under every link), is excluded from the ConfigSpace by a
forbidden clause. Table rows are the canonical hashes in ascending order (``canonical_hashes``).

Configuration -> row is one array lookup: the row of every configuration (9 * 9**4 = 59,049, or 9 * 5**4 = 5,625)
is computed once per process (about a second) and cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
)
from nas_bench_graph import architecture as _nbg

from nas_exp.errors import UserError
from nas_exp.search_spaces.base import FINITE, TABULAR, SearchSpace

DATASETS: tuple[str, ...] = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
LINKS: tuple[str, ...] = tuple(",".join(map(str, link)) for link in _nbg.link_list)
OPS: tuple[str, ...] = tuple(_nbg.gnn_list)  # the 9 ops; the hash digits index this list on every dataset
OPS_PROTEINS: tuple[str, ...] = tuple(_nbg.gnn_list_proteins)  # the 5 ops proteins was evaluated with
N_NODES = 4
OP_NAMES: tuple[str, ...] = tuple(f"op_{i}" for i in range(1, N_NODES + 1))
SKIP = "skip"
_HASH_BASE = len(OPS) + 1  # nas_bench_graph's hash_arch: link index, then one base-10 digit per op (9-op list)


def ops_for(dataset: str) -> tuple[str, ...]:
    """The op list of ``dataset``'s space: 5 ops on proteins, else 9."""
    if dataset not in DATASETS:
        raise UserError(f"dataset {dataset!r} is not in NAS-Bench-Graph; valid: {', '.join(DATASETS)}")
    return OPS_PROTEINS if dataset == "proteins" else OPS


class GraphArch(NamedTuple):
    """A canonical NAS-Bench-Graph architecture: its link pattern (``"0,0,1,2"``) and the 4 ops."""

    link: str
    ops: tuple[str, str, str, str]


def _link_list(link: str) -> list[int]:
    return [int(x) for x in link.split(",")]


@cache
def _all_config_hashes() -> np.ndarray:
    """nas_bench_graph's ``valid_hash`` of every 9-op configuration, by config code (link index, then the 4 op
    indices in ``OPS`` order, base 9, op_1 most significant); -1 for the all-skip configurations."""
    n = len(OPS)
    hashes = np.empty(len(LINKS) * n ** N_NODES, dtype=np.int64)
    code = 0
    for link in _nbg.link_list:
        for o1 in OPS:
            for o2 in OPS:
                for o3 in OPS:
                    for o4 in OPS:
                        ops = [o1, o2, o3, o4]
                        hashes[code] = -1 if all(o == SKIP for o in ops) else \
                            _nbg.Arch(list(link), ops).valid_hash()
                        code += 1
    hashes.setflags(write=False)
    return hashes


@cache
def canonical_hashes() -> np.ndarray:
    """The benchmark's canonical architecture hashes, ascending: row ``i`` of the table is ``canonical_hashes()[i]``."""
    hashes = _all_config_hashes()
    rows = np.unique(hashes[hashes >= 0])
    rows.setflags(write=False)
    return rows


@cache
def config_rows(ops: tuple[str, ...]) -> np.ndarray:
    """Row of every configuration of a space with op list ``ops`` (a sub-list of ``OPS``), by its config code
    (link index, then op indices in ``ops`` order, base ``len(ops)``, op_1 most significant); -1 where the
    benchmark has no result (all four ops skip)."""
    full = _all_config_hashes()
    position = np.array([OPS.index(op) for op in ops], dtype=np.int64)
    n, m = len(OPS), len(ops)
    grids = np.meshgrid(np.arange(len(LINKS)), *([np.arange(m)] * N_NODES), indexing="ij")
    link_idx, digits = grids[0].ravel(), [g.ravel() for g in grids[1:]]
    full_code = link_idx * n ** N_NODES
    for k, d in enumerate(digits):
        full_code = full_code + position[d] * n ** (N_NODES - 1 - k)
    hashes = full[full_code]
    rows = np.searchsorted(canonical_hashes(), hashes)
    rows[hashes < 0] = -1
    rows.setflags(write=False)
    return rows


def decode_hash(value: int) -> GraphArch:
    """The (canonical) architecture of a benchmark hash."""
    digits = []
    for _ in range(N_NODES):
        value, digit = divmod(int(value), _HASH_BASE)
        digits.append(digit)
    if not 0 <= value < len(LINKS) or any(d >= len(OPS) for d in digits):
        raise UserError(f"{value!r} is not a NAS-Bench-Graph architecture hash")
    return GraphArch(LINKS[value], tuple(OPS[d] for d in reversed(digits)))  # type: ignore[arg-type]


@cache
def canonical_archs_by_row() -> tuple[GraphArch, ...]:
    return tuple(decode_hash(h) for h in canonical_hashes())


class NasBenchGraphSpace(SearchSpace):
    """The NAS-Bench-Graph cell space for one dataset (``dataset``: which op list, 9 ops or proteins' 5; in the
    Hydra config it follows ``${dataset.search_on}``)."""

    name = "nasbench_graph"
    capabilities = frozenset({TABULAR, FINITE})

    def __init__(self, dataset: str = "cora", seed: int | None = None) -> None:
        self.dataset = dataset
        self.ops = ops_for(dataset)
        self._op_position = {op: i for i, op in enumerate(self.ops)}
        self._link_position = {link: i for i, link in enumerate(LINKS)}
        configspace = ConfigurationSpace(name=f"nasbench_graph_{dataset}", seed=seed, space=[
            CategoricalHyperparameter("link", list(LINKS)),
            *[CategoricalHyperparameter(name, list(self.ops)) for name in OP_NAMES],
        ])
        configspace.add(ForbiddenAndConjunction(*[ForbiddenEqualsClause(configspace[name], SKIP)
                                                  for name in OP_NAMES]))
        self.configspace = configspace

    def __len__(self) -> int:
        return len(self.canonical_rows())

    # -- codes and rows -----------------------------------------------------------------------------------------
    def _code(self, link: Any, ops: Any) -> int:
        if link not in self._link_position:
            raise UserError(f"unknown NAS-Bench-Graph link {link!r}; valid: {' | '.join(LINKS)}")
        ops = tuple(ops)
        if len(ops) != N_NODES:
            raise UserError(f"a NAS-Bench-Graph cell has {N_NODES} ops, got {len(ops)}: {ops!r}")
        code = self._link_position[link]
        for name, op in zip(OP_NAMES, ops):
            if op not in self._op_position:
                raise UserError(f"unknown op {op!r} for {name} on {self.dataset}; valid: {', '.join(self.ops)}")
            code = code * len(self.ops) + self._op_position[op]
        return code

    def _row(self, link: Any, ops: Any) -> int:
        row = int(config_rows(self.ops)[self._code(link, ops)])
        if row < 0:
            raise UserError(f"NAS-Bench-Graph has no result for link {link} with ops {', '.join(ops)} "
                             "(all four ops skip: the identity network)")
        return row

    def canonical_rows(self) -> np.ndarray:
        """The table rows this space's configurations reach (all 26,206, or 2,021 with the proteins ops)."""
        return _reachable_rows(self.ops)

    # -- the two converters and the key --------------------------------------------------------------------------
    def from_config(self, config: Configuration | Mapping[str, Any]) -> GraphArch:
        values = dict(config)
        missing = [name for name in ("link", *OP_NAMES) if name not in values]
        if missing:
            raise UserError(f"configuration lacks NAS-Bench-Graph parameter(s) {', '.join(missing)}; "
                             f"it has {sorted(values)}")
        return canonical_archs_by_row()[self._row(str(values["link"]), [str(values[n]) for n in OP_NAMES])]

    def to_config(self, arch: GraphArch) -> Configuration:
        link, ops = arch
        self._row(link, ops)  # validates
        return Configuration(self.configspace, values={"link": link, **dict(zip(OP_NAMES, ops))})

    def key(self, arch: GraphArch) -> str:
        link, ops = arch
        self._code(link, ops)
        return f"{link}|{','.join(ops)}"

    def from_key(self, key: str) -> GraphArch:
        """The canonical architecture of ``link|op,op,op,op`` (a non-canonical key gives its canonical form)."""
        if not isinstance(key, str) or key.count("|") != 1:
            raise UserError(f"malformed NAS-Bench-Graph key {key!r}: expected 'link|op_1,op_2,op_3,op_4', "
                             "e.g. '0,0,1,2|gcn,gat,skip,fc'")
        link, ops = key.split("|")
        return canonical_archs_by_row()[self._row(link, ops.split(","))]

    def table_index(self, arch: GraphArch) -> int:
        link, ops = arch
        return self._row(link, ops)

    def table_indices(self, codes: np.ndarray) -> np.ndarray:
        """Rows of many configurations at once, by config code (-1: no result)."""
        return config_rows(self.ops)[np.asarray(codes, dtype=np.int64)]

    def canonical_archs(self) -> Iterator[GraphArch]:
        """Every canonical architecture of this space, in table-row order."""
        archs = canonical_archs_by_row()
        return (archs[row] for row in self.canonical_rows())

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        from nas_exp.benchmarks.nasbench_graph import NASBENCH_GRAPH_RECIPE
        from nas_exp.benchmarks.tabular import TabularBenchmark

        return TabularBenchmark(NASBENCH_GRAPH_RECIPE, source=source, root=root)


@cache
def _reachable_rows(ops: tuple[str, ...]) -> np.ndarray:
    rows = config_rows(ops)
    out = np.unique(rows[rows >= 0])
    out.setflags(write=False)
    return out
