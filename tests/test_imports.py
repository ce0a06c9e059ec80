"""Every module imports on its own, in a fresh interpreter, whatever was imported before (no import circles)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import nas_exp
from conftest import REPO

MODULES = sorted(m.name for m in pkgutil.walk_packages(nas_exp.__path__, "nas_exp.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("first", ["nas_exp.data.converters", "nas_exp.data.store", "nas_exp.benchmarks.tabular",
                                   "nas_exp.app", "nas_exp.one_shot.run"])
def test_entry_modules_import_first_without_a_circle(first):
    done = subprocess.run([sys.executable, "-c", f"import {first}; import nas_exp.blackbox, nas_exp.benchmarks.registry"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_module_imports_in_one_interpreter():
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run([sys.executable, "-c", code, *MODULES], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
