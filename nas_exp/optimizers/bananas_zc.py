"""BANANAS with a zero-cost warm start (``optimizer=bananas_zc``): the initial design is the ``n_initial`` best
of a seeded random pool of ``pool_size`` configurations ranked by one zero-cost proxy (``nas_exp.proxies``), as
NASLib's zero-cost warm start and Abdelfattah et al. (2021, "warmup") do; then BANANAS as usual.

The proxy scores come from a ``ProxyScorer`` (``nas_exp/proxies/scorer.py``) that the run builds from the search
space and hands over because this optimizer declares ``takes_proxy_scorer``: the optimizer itself sees only the
ConfigSpace. The scorer reads the space's proxy cache (``python -m nas_exp.proxies build``) where it is built and
computes the proxy on the fly for the other pool members; spaces without networks are refused in one line when the
run is built. The pool, its scores and where they came from are written to ``zero_cost_warm_start.json``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError
from nas_exp.optimizers.base import Trial
from nas_exp.optimizers.bananas import Bananas
from nas_exp.optimizers.config_moves import allowed, sample
from nas_exp.optimizers.predictor_search import TRIES, key_of, positive_int
from nas_exp.proxies.compute import check_proxies
from nas_exp.proxies.scorer import ProxyScorer


class BananasZC(Bananas):
    name = "bananas_zc"
    takes_proxy_scorer = True

    def __init__(self, *args: Any, scorer: ProxyScorer | None = None, proxy: str = "nwot", pool_size: int = 256,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if scorer is None:
            raise UserError(f"optimizer={self.name} needs a zero-cost proxy scorer, which the run builds from the "
                            "search space; run it through run.py (or pass scorer=ProxyScorer(...))")
        self.scorer = scorer
        self.proxy = check_proxies([proxy])[0]
        self.pool_size = positive_int("pool_size", pool_size)
        if self.pool_size < self.n_initial:
            raise UserError(f"optimizer.pool_size ({pool_size}) must be at least optimizer.n_initial "
                            f"({self.n_initial}): the initial design is the pool's best")
        self._warm_started = False

    # --- the warm start -------------------------------------------------------------------------------------------
    def _pool(self) -> list[Configuration]:
        """``pool_size`` distinct allowed configurations drawn with the run's generator (fewer if the space is
        smaller)."""
        found: dict[bytes, Configuration] = {}
        for _ in range(TRIES * self.pool_size):
            if len(found) == self.pool_size:
                break
            config = sample(self._space, self._rng)
            if allowed(config):
                found.setdefault(key_of(config), config)
        return list(found.values())

    def _warm_start(self) -> None:
        pool = self._pool()
        scored = self.scorer.score(pool, self.proxy)
        best = np.argsort(-scored.scores, kind="stable")[:self.n_initial]
        self._queue.extend(pool[i] for i in best)
        if self.output_dir is not None:
            keys = scored.keys
            record = {"proxy": self.proxy, **self.scorer.as_dict(), "pool_size": len(pool),
                      "from_cache": scored.from_cache, "computed": len(pool) - scored.from_cache,
                      "initial_design": [keys[i] for i in best],
                      "pool": [{"key": k, "score": float(v)} for k, v in zip(keys, scored.scores)]}
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "zero_cost_warm_start.json").write_text(json.dumps(record, indent=1))

    def ask(self) -> Trial:
        if not self._warm_started:
            self._warm_started = True
            self._warm_start()
        return super().ask()
