"""nas-exp entry point: `python run.py [group=option ...] [-m seed=0,1,2]` (see README); the same program as the
`nas-exp` console script (nas_exp/cli.py). `python run.py --version` prints the package version."""

from __future__ import annotations

import os
import sys

# SMAC's local search iterates a Python set of strings; its order, and so a seeded run, depends on string hashing.
# Fix the hash seed before anything else runs (it must be set when the interpreter starts). Only as the main
# script: worker processes that import this file (dask's spawned workers, which set their own hash seed) go on.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

from nas_exp.cli import (cli, flags_first, hydra_error_line, main, resume_command,  # noqa: E402, F401
                         run_command_line)

if __name__ == "__main__":
    run_command_line()
