"""The error type of bad input. Anything raised as ``UserError`` (or a subclass) is reported as one
``error: ...`` line with exit code 2; any other exception is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(ValueError):
    """A bad setting, a missing file, data that cannot be used: what the user can fix, said in one line."""


class MissingDataError(UserError, FileNotFoundError):
    """Data files that are not where they are looked for."""


def import_optional(module: str, who: str, install: str) -> object:
    """Import an optional dependency, or stop with one line: ``who`` needs it, ``install`` gets it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{who} needs {install}") from None
