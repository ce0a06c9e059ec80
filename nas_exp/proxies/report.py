"""Rank correlation of each cached proxy with each table metric of the space's benchmark, and the time per
architecture. On a partial cache the report is restricted to the cells done and says so (``ProxyReport.partial``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from nas_exp.errors import UserError
from nas_exp.proxies.cache import ProxyTable
from nas_exp.proxies.measures import PROXY_NAMES
from nas_exp.search_spaces.base import TABULAR, SearchSpace

MIN_CELLS = 10  # fewer cells than this give no meaningful rank correlation


@dataclass(frozen=True)
class Correlation:
    proxy: str
    dataset: str
    metric: str
    spearman: float
    kendall: float
    n: int  # cells with both a proxy score and a table value


@dataclass(frozen=True)
class ProxyReport:
    space: str
    source: str
    n_done: int
    n_total: int
    correlations: tuple[Correlation, ...]
    seconds: dict[str, float]  # mean seconds per architecture: build, each proxy, total
    settings: dict

    @property
    def partial(self) -> bool:
        return self.n_done < self.n_total

    def markdown(self) -> str:
        columns = sorted({(c.dataset, c.metric) for c in self.correlations},
                         key=lambda dm: [(c.dataset, c.metric) for c in self.correlations].index(dm))
        lines = [f"Proxies of search_space={self.space} against table source {self.source!r} on {self.n_done} of "
                 f"{self.n_total} cells" + (" (PARTIAL cache: finish the build for the full table)"
                                             if self.partial else "") + "; Spearman rho / Kendall tau.", "",
                 "| proxy | " + " | ".join(f"{d} {m}" for d, m in columns) + " | s/arch |",
                 "|---|" + "---|" * (len(columns) + 1)]
        cell = {(c.proxy, c.dataset, c.metric): c for c in self.correlations}
        for proxy in PROXY_NAMES:
            values = [cell[(proxy, d, m)] for d, m in columns]
            lines.append(f"| {proxy} | " + " | ".join(f"{c.spearman:.3f} / {c.kendall:.3f}" for c in values)
                         + f" | {self.seconds[proxy]:.4f} |")
        lines.append(f"| (network build + disconnection check) | " + " | ".join("" for _ in columns)
                     + f" | {self.seconds['build']:.4f} |")
        lines.append(f"| **all proxies, per architecture** | " + " | ".join("" for _ in columns)
                     + f" | {self.seconds['total']:.4f} |")
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        rows = ["proxy,dataset,metric,spearman,kendall,n"]
        rows += [f"{c.proxy},{c.dataset},{c.metric},{c.spearman:.6f},{c.kendall:.6f},{c.n}"
                 for c in self.correlations]
        return "\n".join(rows) + "\n"


def _rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if np.all(x == x[0]) or np.all(y == y[0]):
        return 0.0, 0.0  # a constant has no ranking; scipy would answer NaN with a warning
    return float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic)


def proxy_report(space: SearchSpace, table: ProxyTable, source: str | None = None,
                 root: str | Path | None = None) -> ProxyReport:
    """Spearman and Kendall of each proxy with the benchmark's search metric (e.g. validation accuracy) and report
    metric (e.g. test accuracy) on each dataset its source has, over the cells the cache holds."""
    space.require(TABULAR, "be compared with a table (proxy report)")
    if table.n_done < MIN_CELLS:
        raise UserError(f"the proxy cache holds {table.n_done} cell(s) of search_space={space.name}; the report "
                        f"needs at least {MIN_CELLS}: run `python -m nas_exp.proxies build --space {space.name}`")
    bench = space.tabular_benchmark(source=source, root=root)
    rows = np.flatnonzero(table.done)
    table_rows = np.array([space.table_index(space.from_key(table.keys[r])) for r in rows], dtype=np.int64)
    metrics = [m for m in dict.fromkeys((bench.recipe.search_metric, bench.recipe.report_metric))]
    correlations: list[Correlation] = []
    for dataset in bench.datasets:
        for metric in metrics:
            if not bench.has(dataset, metric):
                continue
            truth = bench.metric_array(dataset, metric)[table_rows]
            if not bench.metric(metric).maximize:
                truth = -truth  # higher is better on both sides
            known = np.isfinite(truth)
            for proxy in PROXY_NAMES:
                scores = table.scores[proxy][rows]
                rho, tau = _rank_correlations(scores[known], truth[known])
                correlations.append(Correlation(proxy, dataset, metric, rho, tau, int(known.sum())))
    if not correlations:
        raise UserError(f"table source {bench.source!r} of search_space={space.name} has none of "
                        f"{', '.join(metrics)}; pick another --source")
    seconds = {name: float(np.mean(table.seconds[name][rows])) for name in ("build", *PROXY_NAMES)}
    seconds["total"] = float(sum(seconds.values()))
    return ProxyReport(space.name, bench.source, table.n_done, len(table.keys), tuple(correlations), seconds,
                       dict(table.meta.get("settings", {})))
