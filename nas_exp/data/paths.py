"""Where the NB201 store lives: an explicit root, else $NAS_EXP_DATA, else ./data (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "NAS_EXP_DATA"


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    if root not in (None, ""):
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.cwd() / "data"
