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


HEAVY = ("torch", "wandb", "dask", "distributed", "smac", "sklearn", "matplotlib")
PROBE = """
import sys, runpy
sys.argv = ["run.py", *sys.argv[1:]]
try:
    runpy.run_path("run.py", run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
print("LOADED", " ".join(sorted(m for m in {HEAVY} if m in sys.modules)))
"""


@pytest.mark.parametrize("optimizer,allowed", [("random", ()), ("rea", ()),
                                               ("smac", ("smac", "sklearn", "dask", "distributed"))])
def test_a_tabular_run_imports_only_what_it_uses(tmp_path, store_root, optimizer, allowed):
    """No torch or wandb in a tabular run; SMAC (and what SMAC's own modules import: scikit-learn, dask) only
    when SMAC is the optimizer."""
    args = [f"hydra.run.dir={tmp_path / 'run'}", "progress=false", f"optimizer={optimizer}",
            "budget.max_evaluations=3"]
    done = subprocess.run([sys.executable, "-c", PROBE.replace("{HEAVY}", repr(HEAVY)), *args], cwd=REPO,
                          capture_output=True, text=True, env={**__import__("os").environ, "PYTHONHASHSEED": "0",
                                                                "NAS_EXP_DATA": str(store_root),
                                                                "WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.rsplit("LOADED", 1)[1].split()
    assert set(loaded) <= set(allowed), f"{optimizer} run imported {loaded}"
