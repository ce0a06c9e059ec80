"""``ProxyScorer``: zero-cost proxy scores of configurations, the form in which an optimizer gets them.

Optimizers know only the ConfigSpace. One that uses zero-cost proxies (``optimizer=bananas_zc``) declares
``takes_proxy_scorer``; the run then builds a ``ProxyScorer`` from the search space (which must declare
``NETWORK``) and the optimizer's ``proxy_settings`` / ``use_cache`` / ``cache_root``, and hands it over. The scorer
reads the space's proxy cache (``python -m nas_exp.proxies build``) where it holds a configuration and computes the
proxy on the fly otherwise; both give the same number (a proxy depends only on the architecture and the settings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError
from nas_exp.proxies.compute import ProxySettings, check_proxies
from nas_exp.search_spaces.base import NETWORK, SearchSpace
from nas_exp.torch_threads import one_torch_thread


@dataclass(frozen=True)
class ProxyScores:
    """Scores of configurations in the order asked (higher is better), their architecture keys, and how many came
    from the cache."""

    scores: np.ndarray
    keys: tuple[str, ...]
    from_cache: int


class ProxyScorer:
    """``score(configs, proxy)``; ``settings`` is the proxy network the scores are computed with."""

    def __init__(self, space: SearchSpace, settings: ProxySettings, use_cache: bool = True,
                 cache_root: str | None = None, who: str = "this optimizer") -> None:
        space.require(NETWORK, f"build networks to score architectures by a zero-cost proxy ({who})")
        if not isinstance(use_cache, bool):
            raise UserError(f"optimizer.use_cache must be true or false, got {use_cache!r}")
        self._space = space
        self.settings = settings
        self.use_cache = use_cache
        self.cache_root = cache_root  # the store holding the proxy cache; None: $NAS_EXP_DATA, else the default

    @classmethod
    def from_config(cls, space: SearchSpace, proxy_settings: Mapping[str, Any] | None, use_cache: bool = True,
                    cache_root: str | None = None, who: str = "this optimizer") -> ProxyScorer:
        """From the optimizer's config node (``proxy_settings`` as in ``ProxySettings``), with one-line errors."""
        try:
            settings = ProxySettings(**dict(proxy_settings or {}))
        except TypeError as err:
            raise UserError(f"optimizer.proxy_settings: {err}; valid keys: C, N, resolution, batch_size, data, "
                            "seed, num_classes") from None
        return cls(space, settings, use_cache=use_cache, cache_root=cache_root, who=who)

    def as_dict(self) -> dict[str, Any]:
        return {"settings": self.settings.as_dict(), "use_cache": self.use_cache}

    def _cached(self, keys: Sequence[str], proxy: str) -> dict[str, float]:
        if not self.use_cache:
            return {}
        from nas_exp.proxies.cache import CacheError, read_cache

        try:
            table = read_cache(self._space, self.settings, root=self.cache_root)
        except CacheError:
            return {}
        row = {key: i for i, key in enumerate(table.keys)}
        return {k: float(table.scores[proxy][row[k]]) for k in keys if k in row and table.done[row[k]]}

    def score(self, configs: Sequence[Configuration], proxy: str) -> ProxyScores:
        """``proxy`` of each configuration: from the cache where it has the architecture, else computed."""
        from nas_exp.proxies.compute import make_batch, score_arch

        proxy = check_proxies([proxy])[0]
        archs = [self._space.from_config(c) for c in configs]
        keys = tuple(self._space.key(a) for a in archs)
        scores = self._cached(keys, proxy)
        from_cache = len(scores)
        missing = [i for i, k in enumerate(keys) if k not in scores]
        if missing:
            batch = make_batch(self.settings)[0]
            with one_torch_thread():
                for i in missing:
                    scores[keys[i]] = score_arch(self._space, archs[i], self.settings, batch,
                                                 proxies=[proxy]).scores[proxy]
        return ProxyScores(np.array([scores[k] for k in keys]), keys, from_cache)
