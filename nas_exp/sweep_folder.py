"""A multirun stopped before its first job (an unknown option or a bad value among the swept ones, found when Hydra
composes every job's config) leaves no sweep folder behind.

Hydra's sweeper creates the sweep folder and its ``multirun.yaml`` before it composes the jobs, and the error then
reaches ``run.py`` without the folder's name. ``SweepFolderTracker``, a Hydra callback, hands the name over in the
environment variable ``NAS_EXP_SWEEP_DIR`` when the multirun starts; ``remove_unstarted_sweep`` deletes the folder
if nothing but ``multirun.yaml`` is in it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

SWEEP_DIR_ENV = "NAS_EXP_SWEEP_DIR"
SWEEP_CONFIG_FILE = "multirun.yaml"


class SweepFolderTracker(Callback):
    """Hydra callback: records the sweep folder of the starting multirun in ``NAS_EXP_SWEEP_DIR``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # ${now:...} in hydra.sweep.dir is resolved once per config (cached), so this is the sweeper's folder.
        os.environ[SWEEP_DIR_ENV] = str(Path(str(config.hydra.sweep.dir)).absolute())


def remove_unstarted_sweep(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Delete the recorded sweep folder if it holds only ``multirun.yaml`` (no job ever started); returns it, or
    None if there was nothing to delete."""
    recorded = environ.pop(SWEEP_DIR_ENV, None)
    if not recorded:
        return None
    folder = Path(recorded)
    if not folder.is_dir() or any(entry.name != SWEEP_CONFIG_FILE for entry in folder.iterdir()):
        return None
    shutil.rmtree(folder)
    return folder
