"""NB201's inferred cell (``xautodl/models/cell_infers/cells.py: InferCell``) for one fixed architecture."""

from __future__ import annotations

import torch
from torch import nn

from nas_exp.models.operations import build_op
from nas_exp.search_spaces.nb201 import EDGES, Arch

N_NODES = 4  # node 0 is the cell input, node 3 its output


def node_inputs(arch: Arch) -> tuple[tuple[tuple[int, int], ...], ...]:
    """For each node 0..3, the (edge position, source node) pairs that carry something (op other than none)."""
    return tuple(
        tuple((pos, frm) for pos, (to, frm) in enumerate(EDGES) if to == node and arch[pos] != "none")
        for node in range(N_NODES)
    )


def needed_nodes(inputs: tuple[tuple[tuple[int, int], ...], ...]) -> frozenset[int]:
    """Nodes whose value reaches the output (node 3) through some edge that is not none."""
    needed = {N_NODES - 1}
    for node in range(N_NODES - 1, 0, -1):
        if node in needed:
            needed.update(frm for _, frm in inputs[node])
    return frozenset(needed)


class InferCell(nn.Module):
    """Node j = sum over i < j of op_{j<-i}(node i); the cell's output is node 3. Channels and resolution are kept.

    ``none`` edges are skipped in the sums rather than adding zeros (same result, less work), and nodes that reach
    the output only through ``none`` edges are not computed; a node with no live input is all zeros. The op modules
    of every edge still exist (``self.edges``, in ``EDGES`` order), so the module tree matches NB201's.
    """

    def __init__(self, arch: Arch, channels: int) -> None:
        super().__init__()
        self.arch = Arch(arch)
        self.edges = nn.ModuleList(build_op(op, channels) for op in self.arch)
        self._inputs = node_inputs(self.arch)
        self._needed = needed_nodes(self._inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        for node in range(1, N_NODES):
            if node not in self._needed:
                nodes.append(None)
                continue
            terms = [self.edges[pos](nodes[frm]) for pos, frm in self._inputs[node]]
            if not terms:
                nodes.append(torch.zeros_like(x))
                continue
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            nodes.append(total)
        return nodes[-1]

    def extra_repr(self) -> str:
        return self.arch.to_str()
