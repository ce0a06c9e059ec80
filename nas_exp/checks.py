"""Checks of config values shared by the components: each raises a one-line ValueError naming the setting."""

from __future__ import annotations

from typing import Any

from nas_exp.errors import UserError


def require_int(value: Any, label: str, low: int = 1) -> int:
    """``value`` if it is an int (a bool is not) >= ``low``; else ``ValueError("LABEL must be an int >= LOW, got
    VALUE")``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{label} must be an int >= {low}, got {value!r}")
    return value
