"""Random search with weight sharing (Li & Talwalkar, UAI 2019; NB201's RSWS): train the supernet on uniformly
sampled paths, then rank ``select_num`` uniformly sampled cells (plus the best seen) by one-shot validation
accuracy; optionally retrain the top ``retrain_top_k`` stand-alone (train-mode evaluator) and keep the best."""

from __future__ import annotations

from nas_exp.checks import require_int
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.selection import Retrain, rank_cells, retrain_top
from nas_exp.one_shot.uniform import UniformSampling
from nas_exp.one_shot.records import Cell


class RSWS(UniformSampling):
    name = "rsws"
    ranks_candidates = True

    def __init__(self, *, select_num: int = 100, **settings: object) -> None:
        super().__init__(**settings)
        self.select_num = require_int(select_num, "optimizer.select_num")

    def finalize(self, batches: SearchBatches, retrain: Retrain | None) -> Cell:
        cells = self.with_best(self.layout.distinct_cells(self.select_num, self.rng))
        ranked = rank_cells(cells, self.scorer(batches, self.settings.select_batches))
        self.candidates = retrain_top(ranked, self.settings.retrain_top_k, retrain)
        self.best = self.candidates[0].arch
        return self.best
