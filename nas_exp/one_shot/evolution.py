"""SPOS' evolutionary search (Guo et al., ECCV 2020) over a cell space's cells, scored by a given function
(one-shot validation accuracy): each generation keeps the ``n_parents`` best, and refills the population half
with mutants (each decision of the cell, ``SupernetLayout.decisions``, changed with probability ``mutation_prob``,
at least one) and half with uniform crossovers of two parents. Every cell is scored once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.one_shot.records import Cell, Scored
from nas_exp.search_spaces.supernet_layout import SupernetLayout


@dataclass(frozen=True)
class EvolutionSettings:
    population_size: int = 50
    n_iterations: int = 20
    n_parents: int = 10
    mutation_prob: float = 0.1

    def __post_init__(self) -> None:
        for name in ("population_size", "n_iterations", "n_parents"):
            require_int(getattr(self, name), f"optimizer.{name}")
        if self.n_parents > self.population_size:
            raise UserError(f"optimizer.n_parents ({self.n_parents}) must not exceed optimizer.population_size "
                             f"({self.population_size})")
        if not 0 <= self.mutation_prob <= 1:
            raise UserError(f"optimizer.mutation_prob must be in [0, 1], got {self.mutation_prob!r}")


def mutate(arch: Cell, layout: SupernetLayout, prob: float, rng: np.random.Generator) -> Cell:
    """Each decision (of more than one value) changes to a different value with probability ``prob``; if none
    did, one random decision does."""
    values = list(layout.decisions(arch))
    free = [pos for pos, size in enumerate(layout.decision_sizes) if size > 1]
    if not free:
        return arch
    changed = [pos for pos in free if rng.random() < prob]
    if not changed:
        changed = [free[int(rng.integers(len(free)))]]
    for pos in changed:
        choices = [v for v in range(layout.decision_sizes[pos]) if v != values[pos]]
        values[pos] = choices[int(rng.integers(len(choices)))]
    return layout.cell(values)


def crossover(a: Cell, b: Cell, layout: SupernetLayout, rng: np.random.Generator) -> Cell:
    """Each decision's value from ``a`` or ``b`` with equal probability."""
    return layout.cell([x if rng.random() < 0.5 else y for x, y in zip(layout.decisions(a), layout.decisions(b))])


def evolve(score: Callable[[Cell], float], layout: SupernetLayout, rng: np.random.Generator,
           settings: EvolutionSettings, seeds: Sequence[Cell] = ()) -> list[Scored]:
    """Every cell scored during the search, best first. ``seeds`` join the random first population."""
    scores: dict[Cell, float] = {}

    def fitness(arch: Cell) -> float:
        if arch not in scores:
            scores[arch] = score(arch)
        return scores[arch]

    size = settings.population_size
    population = list(dict.fromkeys([*seeds, *layout.distinct_cells(size, rng)]))[:size]
    for _ in range(settings.n_iterations):
        parents = sorted(population, key=lambda a: -fitness(a))[:settings.n_parents]
        n_children = size - len(parents)
        children: list[Cell] = []
        _fill(children, n_children // 2, lambda p=parents: mutate(_pick(p, rng), layout, settings.mutation_prob, rng),
              scores, 10 * size)
        _fill(children, n_children, lambda p=parents: crossover(_pick(p, rng), _pick(p, rng), layout, rng), scores,
              10 * size)
        population = parents + children
        for arch in population:
            fitness(arch)
    return sorted((Scored(a, s) for a, s in scores.items()), key=lambda s: -s.oneshot_valid_acc)


def _fill(children: list[Cell], target: int, make: Callable[[], Cell], seen: dict[Cell, float],
          attempts: int) -> None:
    """Append new cells from ``make`` until ``children`` holds ``target`` (at most ``attempts`` tries: late in a
    search most offspring were seen already)."""
    for _ in range(attempts):
        if len(children) >= target:
            return
        child = make()
        if child not in seen and child not in children:
            children.append(child)


def _pick(parents: Sequence[Cell], rng: np.random.Generator) -> Cell:
    return parents[int(rng.integers(len(parents)))]
