"""``python -m nas_exp.deepcave RUN_DIR [RUN_DIR ...]``: write each run folder's DeepCAVE-readable run history
(``deepcave/``; SMAC runs have their own in ``smac3/``) and print the folder to open. Bad input: one
``error: ...`` line per folder and exit code 2; the other folders are still handled."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nas_exp.errors import UserError

BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas_exp.deepcave",
                                     description="Write nas-exp run folders as run histories DeepCAVE opens.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run folder (with trajectory.csv)")
    args = parser.parse_args(argv)
    from nas_exp.deepcave.folder import deepcave_folder

    status = 0
    for run_dir in args.run_dirs:
        try:
            found = deepcave_folder(run_dir)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            status = BAD_INPUT
            continue
        how = "exported to" if found.exported else "SMAC's own run history:"
        print(f"{run_dir}: {how} {found.folder}")
    return status


if __name__ == "__main__":
    sys.exit(main())
