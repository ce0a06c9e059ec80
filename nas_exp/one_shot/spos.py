"""Single-path one-shot with evolution (Guo et al., ECCV 2020): train the supernet on uniformly sampled single
paths, then search it with an evolutionary algorithm scored by one-shot validation accuracy (``evolution.py``)."""

from __future__ import annotations

from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.evolution import EvolutionSettings, evolve
from nas_exp.one_shot.selection import Retrain, retrain_top
from nas_exp.one_shot.uniform import UniformSampling
from nas_exp.one_shot.records import Cell


class SPOS(UniformSampling):
    name = "spos"
    ranks_candidates = True

    def __init__(self, *, population_size: int = 50, n_iterations: int = 20, n_parents: int = 10,
                 mutation_prob: float = 0.1, **settings: object) -> None:
        super().__init__(**settings)
        self.evolution = EvolutionSettings(population_size, n_iterations, n_parents, mutation_prob)

    def finalize(self, batches: SearchBatches, retrain: Retrain | None) -> Cell:
        seeds = [] if self.best is None else [self.best]
        ranked = evolve(self.scorer(batches, self.settings.select_batches), self.layout, self.rng, self.evolution,
                        seeds)
        self.candidates = retrain_top(ranked, self.settings.retrain_top_k, retrain)
        self.best = self.candidates[0].arch
        return self.best
