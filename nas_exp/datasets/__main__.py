"""`python -m nas_exp.datasets {info,download}`: image datasets for train mode and one-shot search.

  info                       which datasets are readable here and from where
  download fashion-mnist     fetch Fashion-MNIST's four files into DATA_ROOT/fashion-mnist (needs internet)

CIFAR-10/100 and ImageNet16-120 are not fetched here (their hosts need a browser or a licence): the error of a run
that needs them says where to get them and where to put them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_exp.data.download import TIMEOUT_S, OfficialFile, OfficialSource, fetch_file
from nas_exp.datasets import fashion_mnist
from nas_exp.datasets.registry import DATASET_NAMES, check_files, resolve_image_root
from nas_exp.errors import UserError

DOWNLOADABLE = ("fashion-mnist",)


def download_fashion_mnist(root: Path, timeout: float = TIMEOUT_S) -> Path:
    """Fetch the four Fashion-MNIST files into ``root/fashion-mnist`` (files already there are kept) and check
    them by reading them; returns the folder."""
    folder = Path(root) / fashion_mnist.FOLDER
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    folder.mkdir(parents=True, exist_ok=True)
    source = OfficialSource(
        name="fashion-mnist", homepage="https://github.com/zalandoresearch/fashion-mnist",
        files=tuple(OfficialFile(name, f"{fashion_mnist.DOWNLOAD_URL}/{name}", f"{fashion_mnist.DOWNLOAD_URL}/{name}")
                    for name in fashion_mnist.FILES),
        convert_target=".", then="and the run will find it")
    try:
        for file in source.files:
            if not (folder / file.name).is_file():
                fetch_file(source, file, folder, timeout)
    finally:
        for path in created:  # nothing fetched: leave no empty folders behind
            if any(path.iterdir()):
                break
            path.rmdir()
    fashion_mnist.read_fashion_mnist(folder)  # a damaged download is reported now, not at training time
    return folder


def _info(root: Path) -> None:
    for name in DATASET_NAMES:
        try:
            check_files(name, root)
            where = ("scikit-learn" if name == "digits" else
                     f"found in {fashion_mnist.find_folder(root)}" if name == "fashion-mnist" else f"found in {root}")
        except UserError as err:
            where = f"missing ({err})"
        print(f"{name:16s} {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None,
                        help="data root (default: $NAS_EXP_IMAGES, else ./data/images)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="which datasets are readable here")
    download = commands.add_parser("download", help="fetch a dataset that has a public download")
    download.add_argument("name", choices=DOWNLOADABLE)
    download.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per connection attempt")
    args = parser.parse_args(argv)
    root = resolve_image_root(args.root)
    try:
        if args.command == "info":
            _info(root)
        else:
            print(f"{args.name}: {download_fashion_mnist(root, args.timeout)}")
    except (UserError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
