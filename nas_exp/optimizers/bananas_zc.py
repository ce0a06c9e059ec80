"""BANANAS with a zero-cost warm start (``optimizer=bananas_zc``): the initial design is the ``n_initial`` best
of a seeded random pool of ``pool_size`` configurations ranked by one zero-cost proxy (``nas_exp.proxies``), as
NASLib's zero-cost warm start and Abdelfattah et al. (2021, "warmup") do; then BANANAS as usual.

The proxy of a pool member is read from the space's proxy cache (``python -m nas_exp.proxies build``) when it is
there, and otherwise computed on the fly for that member only; both give the same number (a proxy depends only on
the architecture and the settings). Needs a space that builds networks (capability ``NETWORK``), which it gets as
``space`` (declared by ``takes_space``); other spaces are refused in one line. The pool, its scores and where they
came from are written to ``zero_cost_warm_start.json`` in the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError
from nas_exp.optimizers.base import Trial
from nas_exp.optimizers.bananas import Bananas
from nas_exp.optimizers.config_moves import allowed, sample
from nas_exp.optimizers.predictor_search import TRIES, key_of, positive_int
from nas_exp.search_spaces.base import NETWORK, SearchSpace


class BananasZC(Bananas):
    name = "bananas_zc"
    takes_space = True

    def __init__(self, *args: Any, space: SearchSpace | None = None, proxy: str = "nwot", pool_size: int = 256,
                 proxy_settings: Mapping[str, Any] | None = None, use_cache: bool = True,
                 cache_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from nas_exp.proxies.compute import ProxySettings, check_proxies

        if space is None:
            raise UserError(f"optimizer={self.name} needs the search space (it is passed by the runner)")
        space.require(NETWORK, f"build networks to rank a warm-start pool by a zero-cost proxy "
                               f"(optimizer={self.name}); use optimizer=bananas")
        self.space = space
        self.proxy = check_proxies([proxy])[0]
        self.pool_size = positive_int("pool_size", pool_size)
        if self.pool_size < self.n_initial:
            raise UserError(f"optimizer.pool_size ({pool_size}) must be at least optimizer.n_initial "
                            f"({self.n_initial}): the initial design is the pool's best")
        if not isinstance(use_cache, bool):
            raise UserError(f"optimizer.use_cache must be true or false, got {use_cache!r}")
        try:
            self.proxy_settings = ProxySettings(**dict(proxy_settings or {}))
        except TypeError as err:
            raise UserError(f"optimizer.proxy_settings: {err}; valid keys: C, N, resolution, batch_size, data, "
                            "seed, num_classes") from None
        self.use_cache = use_cache
        self.cache_root = cache_root  # the store holding the proxy cache; None: $NAS_EXP_DATA, else ./data
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

    def _cached(self, keys: list[str]) -> dict[str, float]:
        if not self.use_cache:
            return {}
        from nas_exp.proxies.cache import CacheError, read_cache

        try:
            table = read_cache(self.space, self.proxy_settings, root=self.cache_root)
        except CacheError:
            return {}
        row = {key: i for i, key in enumerate(table.keys)}
        return {k: float(table.scores[self.proxy][row[k]]) for k in keys if k in row and table.done[row[k]]}

    def _warm_start(self) -> None:
        from nas_exp.proxies.compute import make_batch, one_torch_thread, score_arch

        pool = self._pool()
        archs = [self.space.from_config(c) for c in pool]
        keys = [self.space.key(a) for a in archs]
        scores = self._cached(keys)
        from_cache = len(scores)
        missing = [i for i, k in enumerate(keys) if k not in scores]
        if missing:
            batch = make_batch(self.proxy_settings)[0]
            with one_torch_thread():
                for i in missing:
                    scores[keys[i]] = score_arch(self.space, archs[i], self.proxy_settings, batch,
                                                 proxies=[self.proxy]).scores[self.proxy]
        values = np.array([scores[k] for k in keys])
        best = np.argsort(-values, kind="stable")[:self.n_initial]
        self._queue.extend(pool[i] for i in best)
        if self.output_dir is not None:
            record = {"proxy": self.proxy, "settings": self.proxy_settings.as_dict(), "pool_size": len(pool),
                      "from_cache": from_cache, "computed": len(missing), "initial_design": [keys[i] for i in best],
                      "pool": [{"key": k, "score": scores[k]} for k in keys]}
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "zero_cost_warm_start.json").write_text(json.dumps(record, indent=1))

    def ask(self) -> Trial:
        if not self._warm_started:
            self._warm_started = True
            self._warm_start()
        return super().ask()
