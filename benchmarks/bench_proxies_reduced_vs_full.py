"""Is the reduced proxy network honest? Rank agreement (Spearman, Kendall) between each zero-cost proxy on the
default reduced network (``ProxySettings()``: C=8, N=1, 16x16, batch 16) and on the full NB201 network (C=16, N=5,
32x32, batch 64), on random NB201 cells, and the seconds per cell of each.

Run: `python benchmarks/bench_proxies_reduced_vs_full.py [--cells 50] [--seed 0] [--data digits]`
(50 cells take about 10 minutes on one core: the full network costs ~10 s per cell for all eight proxies).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from nas_exp.proxies.compute import ProxySettings, make_batch, score_arch
from nas_exp.proxies.measures import PROXY_NAMES
from nas_exp.proxies.spaces import space_from_conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of the cell sample")
    parser.add_argument("--data", default="digits")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = space_from_conf("nb201")
    archs = list(space.canonical_archs())
    rows = np.random.default_rng(args.seed).choice(len(archs), args.cells, replace=False)
    scores: dict[str, dict[str, list[float]]] = {}
    for label, settings in (("reduced", ProxySettings(data=args.data)),
                            ("full", ProxySettings(C=16, N=5, resolution=32, batch_size=64, data=args.data))):
        batch = make_batch(settings)[0]
        started = time.perf_counter()
        results = [score_arch(space, archs[r], settings, batch) for r in rows]
        print(f"{label}: {(time.perf_counter() - started) / len(rows):.3f} s per cell ({settings})", flush=True)
        scores[label] = {p: [r.scores[p] for r in results] for p in PROXY_NAMES}
    print(f"\n{'proxy':10s} spearman kendall  (reduced vs full, {args.cells} cells)")
    for p in PROXY_NAMES:
        rho = stats.spearmanr(scores["reduced"][p], scores["full"][p]).statistic
        tau = stats.kendalltau(scores["reduced"][p], scores["full"][p]).statistic
        print(f"{p:10s} {rho:8.3f} {tau:7.3f}")


if __name__ == "__main__":
    main()
