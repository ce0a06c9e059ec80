"""nas-exp entry point: `python run.py [group=option ...] [-m seed=0,1,2]` (see README)."""

from __future__ import annotations

import os
import sys

# SMAC's local search iterates a Python set of strings; its order, and so a seeded run, depends on string hashing.
# Fix the hash seed before anything else runs (it must be set when the interpreter starts).
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from nas_exp.app import USER_ERRORS, fail, run_experiment  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_experiment(cfg, run_dir)
    except USER_ERRORS as err:
        fail(str(err))
        if not (run_dir / "trajectory.csv").exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-written left behind
        sys.exit(2)


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's parser stops taking overrides at the first flag, so `run.py a=b -m seed=0,1` would reject
    `seed=0,1`. Move the bare mode flags in front of the overrides; everything else keeps its order."""
    mode_flags = ("-m", "--multirun", "--run", "-r")
    return [argv[0], *[a for a in argv[1:] if a in mode_flags], *[a for a in argv[1:] if a not in mode_flags]]


if __name__ == "__main__":
    sys.argv = flags_first(sys.argv)
    main()
