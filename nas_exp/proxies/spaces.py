"""A search space by its config name, built from ``conf/search_space/<name>.yaml`` exactly as runs build it."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from nas_exp.errors import UserError
from nas_exp.search_spaces.base import SearchSpace

CONF_DIR = Path(__file__).resolve().parents[2] / "conf" / "search_space"


def space_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in CONF_DIR.glob("*.yaml")))


def space_from_conf(name: str) -> SearchSpace:
    """``search_space=<name>`` of a run, instantiated from its YAML (one-line error for an unknown name)."""
    from nas_exp.components import build

    if name not in space_names():
        raise UserError(f"unknown search space {name!r}; valid: {', '.join(space_names())}")
    return build(OmegaConf.load(CONF_DIR / f"{name}.yaml"))
