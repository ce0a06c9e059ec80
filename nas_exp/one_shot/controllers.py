"""ENAS controllers: a policy over a cell space's cells that decodes its decisions in order
(``SupernetLayout.decision_sizes``: for an edge cell one op per edge; for a DARTS cell per node its inputs, then
their ops). Decisions of fewer values than the largest use the first logits.

``LSTMController`` is NB201's ENAS controller (``xautodl/models/cell_searchs/search_model_enas_utils.py``): a
2-layer LSTM (hidden 32) fed the embedding of the previous op, logits ``tanh_constant * tanh(l / temperature)``.
``EdgeController`` is the simple alternative: independent softmax logits per edge. Both run on the CPU (they are
tiny) and sample with a caller-given ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nas_exp.errors import UserError

CONTROLLERS = ("lstm", "per_edge")


@dataclass(frozen=True)
class Sampled:
    decisions: tuple[int, ...]  # the value of each decision
    log_prob: torch.Tensor  # sum over decisions of log p(value), with its graph
    entropy: torch.Tensor  # sum over decisions of the policy's entropy, with its graph


class Controller(nn.Module):
    """Subclasses give the logits of each decision given the previous decision's value and a recurrent state."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        if not sizes or min(sizes) < 1:
            raise UserError(f"a controller needs decisions of at least one value each, got sizes {sizes!r}")
        self.sizes = tuple(int(s) for s in sizes)

    def initial_state(self) -> Any:
        return None

    def edge_logits(self, edge: int, previous: int | None, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def decode(self, choose: Callable[[torch.Tensor], int]) -> Sampled:
        state, previous = self.initial_state(), None
        path, log_probs, entropies = [], [], []
        for edge, size in enumerate(self.sizes):
            logits, state = self.edge_logits(edge, previous, state)
            logits = logits if size == logits.shape[-1] else logits[:size]
            log_p = torch.log_softmax(logits, dim=-1)
            previous = choose(logits.detach())
            path.append(previous)
            log_probs.append(log_p[previous])
            entropies.append(-(log_p.exp() * log_p).sum())
        return Sampled(tuple(path), torch.stack(log_probs).sum(), torch.stack(entropies).sum())

    def sample(self, generator: torch.Generator) -> Sampled:
        return self.decode(lambda logits: int(torch.multinomial(torch.softmax(logits, dim=-1), 1,
                                                                generator=generator).item()))

    def greedy(self) -> tuple[int, ...]:
        with torch.no_grad():
            return self.decode(lambda logits: int(logits.argmax().item())).decisions


class EdgeController(Controller):
    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__(sizes)
        self.logits = nn.Parameter(torch.zeros(len(self.sizes), max(self.sizes)))

    def edge_logits(self, edge: int, previous: int | None, state: Any) -> tuple[torch.Tensor, Any]:
        return self.logits[edge], state


class LSTMController(Controller):
    def __init__(self, sizes: tuple[int, ...], hidden: int = 32, layers: int = 2, tanh_constant: float = 2.5,
                 temperature: float = 5.0) -> None:
        super().__init__(sizes)
        width = max(self.sizes)
        self.start = nn.Parameter(torch.empty(1, 1, hidden))
        self.lstm = nn.LSTM(input_size=hidden, hidden_size=hidden, num_layers=layers)
        self.embedding = nn.Embedding(width, hidden)
        self.predict = nn.Linear(hidden, width)
        self.tanh_constant, self.temperature = tanh_constant, temperature
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -0.1, 0.1)

    def edge_logits(self, edge: int, previous: int | None, state: Any) -> tuple[torch.Tensor, Any]:
        inputs = self.start if previous is None else self.embedding.weight[previous].view(1, 1, -1)
        outputs, state = self.lstm(inputs, state)
        logits = self.predict(outputs).view(-1) / self.temperature
        return self.tanh_constant * torch.tanh(logits), state


def build_controller(kind: str, sizes: tuple[int, ...], hidden: int = 32, layers: int = 2,
                     tanh_constant: float = 2.5, temperature: float = 5.0) -> Controller:
    """A controller over decisions of ``sizes`` values (``SupernetLayout.decision_sizes``)."""
    if kind == "lstm":
        return LSTMController(sizes, hidden, layers, tanh_constant, temperature)
    if kind == "per_edge":
        return EdgeController(sizes)
    raise UserError(f"unknown ENAS controller {kind!r}; valid: {', '.join(CONTROLLERS)}")
