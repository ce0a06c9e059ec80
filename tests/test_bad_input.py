"""Bad input anywhere on the command line: one `error:` line, exit code 2, before any work, no run folder left.
(Budget and seed values: tests/test_cli.py.)"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_bad_input")]  # one pytest worker: module fixtures built once
TEST_CONF = Path(__file__).resolve().parent / "conf"


CASES = {
    "unknown-option": (["optimizer=bogus"], "Could not find 'optimizer/bogus'; valid options in 'optimizer': "),
    "unknown-option-in-a-sweep": (["-m", "optimizer=random,bogus", "seed=0,1"],
                                  "Could not find 'optimizer/bogus'; valid options in 'optimizer': "),
    "key-of-a-swept-option": (["-m", "optimizer=darts,gdas", "optimizer.epochs=3"],
                              "Could not override 'optimizer.epochs': a multirun first composes the default option "
                              "of each swept group, which has no such key; write ++optimizer.epochs=VALUE"),
    "unknown-key-in-a-sweep": (["-m", "seed=0,1", "no_such_key=1"],
                               "unknown top-level key 'no_such_key' (nothing reads it); valid top-level keys: "),
    "unknown-launcher": (["hydra/launcher=bogus"],
                         "valid options in 'hydra/launcher': basic, joblib, slurm, submitit_local"),
    "unparsable": (["seed=["], "cannot parse override 'seed=['"),
    "unknown-key": (["sed=3"], "unknown top-level key 'sed' (nothing reads it); did you mean seed?"),
    "added-unknown-key": (["+sed=3"], "unknown top-level key 'sed' (nothing reads it); did you mean seed?"),
    "combination": (["search_space=nb201_hpo"], "search_space=nb201_hpo searches learning_rate, weight_decay "
                                                "beside the cell, which only training uses"),
    "dataset": (["dataset=digits"],
                "dataset 'digits' is not in the nb201 benchmark; valid: cifar10-valid, cifar10, cifar100, ImageNet16-120; train on it with evaluation=train"),
    "one-shot-on-tabular": (["--config-dir", str(TEST_CONF), "optimizer=oneshot_stub"],
                            "optimizer oneshot_stub trains networks itself (requires_training: true) and cannot "
                            "run on evaluation=tabular"),
    "resume": (["resume=maybe"], "resume must be true or false, got 'maybe'"),
    "workers": (["parallel.n_workers=0"], "parallel.n_workers must be an int >= 1, got 0"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, store_root) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every case run once, a few at a time (each is a whole interpreter start)."""
    def run(case: str) -> tuple[subprocess.CompletedProcess, Path]:
        cwd = tmp_path_factory.mktemp(case)
        return run_cli(CASES[case][0], cwd, store_root), cwd

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_error_line_before_any_work(outcomes, case):
    done, cwd = outcomes[case]
    message = CASES[case][1]
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert not list(cwd.glob("outputs/runs/*/*"))  # no run folder
    assert not list(cwd.glob("outputs/multirun/*/*"))  # no sweep folder (not even one holding only multirun.yaml)
    assert done.stdout == ""


def test_the_user_can_still_ask_hydra_for_its_full_report(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    done = run_cli(["optimizer=bogus"], tmp_path, store_root)
    assert done.returncode == 1 and "MissingConfigException" in done.stderr and "Traceback" in done.stderr
    assert os.environ["HYDRA_FULL_ERROR"] == "1"
