"""`python -m nas_exp.proxies {build,report}`: zero-cost proxies of every architecture of a finite space.

  build    compute and cache the eight proxies of every canonical architecture (resumable: a rerun continues)
  report   Spearman / Kendall of each proxy with the space's table metrics, and the seconds per architecture

Settings (both commands; the report reads the cache of the same settings): --C --N --resolution --batch-size
--data --seed --num-classes. Defaults: the reduced proxy network of docs/proxies.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_exp.data.paths import ROOT_HELP
from nas_exp.errors import UserError
from nas_exp.proxies.compute import DATA_SOURCES, ProxySettings


def _settings(args: argparse.Namespace) -> ProxySettings:
    return ProxySettings(C=args.C, N=args.N, resolution=args.resolution, batch_size=args.batch_size,
                         data=args.data, seed=args.seed, num_classes=args.num_classes)


def _parser() -> argparse.ArgumentParser:
    defaults = ProxySettings()
    parser = argparse.ArgumentParser(prog="python -m nas_exp.proxies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="compute and cache the proxies of every architecture")
    report = commands.add_parser("report", help="correlation of the cached proxies with the table")
    for sub in (build, report):
        sub.add_argument("--space", required=True, help="a conf/search_space name, e.g. nb201")
        sub.add_argument("--root", default=None, help=ROOT_HELP)
        sub.add_argument("--C", type=int, default=defaults.C, help="channels of the first stage")
        sub.add_argument("--N", type=int, default=defaults.N, help="cells per stage")
        sub.add_argument("--resolution", type=int, default=defaults.resolution, help="input side in pixels")
        sub.add_argument("--batch-size", type=int, default=defaults.batch_size)
        sub.add_argument("--data", choices=DATA_SOURCES, default=defaults.data)
        sub.add_argument("--seed", type=int, default=defaults.seed)
        sub.add_argument("--num-classes", type=int, default=defaults.num_classes)
    build.add_argument("--limit", type=int, default=None, help="stop once the first LIMIT architectures are cached")
    build.add_argument("--workers", type=int, default=1, help="processes (each on one torch thread)")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    report.add_argument("--source", default=None, help="table data source (default: the benchmark's)")
    report.add_argument("--markdown", type=Path, default=None, help="also write the table as markdown here")
    report.add_argument("--csv", type=Path, default=None, help="also write the correlations as CSV here")
    return parser


def _build(args: argparse.Namespace) -> None:
    from nas_exp.proxies.cache import build_cache
    from nas_exp.proxies.spaces import space_from_conf

    result = build_cache(space_from_conf(args.space), _settings(args), root=args.root, limit=args.limit,
                         workers=args.workers, progress=not args.no_progress)
    per_arch = result.wall_seconds / result.computed if result.computed else 0.0
    print(f"{result.computed} architecture(s) computed in {result.wall_seconds:.1f} s "
          f"({per_arch:.3f} s each, {args.workers} worker(s)); cache holds {result.n_done} of {result.n_total} "
          f"in {result.folder}")


def _report(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from nas_exp.proxies.cache import read_cache
    from nas_exp.proxies.measures import PROXY_NAMES
    from nas_exp.proxies.report import proxy_report
    from nas_exp.proxies.spaces import space_from_conf
    from nas_exp.search_spaces.base import TABULAR

    space = space_from_conf(args.space)
    space.require(TABULAR, "be compared with a table (proxy report)")  # before looking for its cache
    cached = read_cache(space, _settings(args), root=args.root)
    report = proxy_report(space, cached, source=args.source, root=args.root)
    columns = list(dict.fromkeys((c.dataset, c.metric) for c in report.correlations))
    title = (f"{report.space}: proxies vs {report.source} on {report.n_done}/{report.n_total} cells"
             + (" [PARTIAL cache]" if report.partial else "") + " (Spearman / Kendall)")
    table = Table(title=title)
    table.add_column("proxy")
    for dataset, metric in columns:
        table.add_column(f"{dataset}\n{metric}", justify="right")
    table.add_column("s/arch", justify="right")
    cell = {(c.proxy, c.dataset, c.metric): c for c in report.correlations}
    for proxy in PROXY_NAMES:
        table.add_row(proxy, *(f"{cell[(proxy, d, m)].spearman:.3f} / {cell[(proxy, d, m)].kendall:.3f}"
                               for d, m in columns), f"{report.seconds[proxy]:.4f}")
    table.add_row("build", *("" for _ in columns), f"{report.seconds['build']:.4f}")
    table.add_row("total", *("" for _ in columns), f"{report.seconds['total']:.4f}")
    Console().print(table)
    meta = cached.meta
    print(f"cache {meta.get('data_source')}; build wall time {meta.get('build_wall_seconds', 0.0):.1f} s for "
          f"{meta.get('n_done')} cells (workers <= {meta.get('build_workers', 1)}), "
          f"{report.seconds['total']:.4f} s per architecture of proxy work")
    for path, text in ((args.markdown, report.markdown()), (args.csv, report.csv())):
        if path is not None:
            path.write_text(text)
            print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _build(args) if args.command == "build" else _report(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
