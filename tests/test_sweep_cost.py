"""The per-process caches that cut a sweep's fixed cost per job (the table cache in nas_exp/data/store.py, the
package versions and top-level keys in nas_exp/components.py): the same results as without them, nothing mutable
shared, an edited file read again."""

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import cli_command, cli_env


def trajectories(sweep_dir: Path) -> dict[str, list[dict]]:
    found = {}
    for path in sorted(sweep_dir.glob("*/trajectory.csv")):
        with open(path, newline="") as handle:
            found[path.parent.name] = [{k: v for k, v in row.items() if k != "wall_time"}
                                       for row in csv.DictReader(handle)]
    return found


@pytest.mark.slow
def test_sweep_with_caches_equals_sweep_without(tmp_path, store_root):
    """Two optimizers x two seeds (the second seed composes the same files again) with the caches on and off:
    the same trajectories, and the same resolved config in every job."""
    found = {}
    for mode in ("0", "1"):
        sweep_dir = tmp_path / f"cache{mode}"
        args = ["budget.max_evaluations=8", "progress=false", f"hydra.sweep.dir={sweep_dir}", "-m",
                "optimizer=random,rea", "seed=0,1"]
        env = {**cli_env(store_root), "NAS_EXP_SWEEP_CACHE": mode}
        done = subprocess.run(cli_command(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        found[mode] = trajectories(sweep_dir)
        assert len(found[mode]) == 4 and all(len(rows) == 8 for rows in found[mode].values())
        found[mode + "config"] = {p.parent.parent.name: p.read_text() for p in sweep_dir.glob("*/.hydra/config.yaml")}
    assert found["0"] == found["1"]
    assert found["0config"] == found["1config"]


def test_table_arrays_are_shared_read_only_and_reread_when_the_file_changes(bench, monkeypatch):
    from nas_exp.benchmarks.nb201_tabular import NB201Benchmark
    from nas_exp.data import store

    monkeypatch.setenv("NAS_EXP_SWEEP_CACHE", "1")
    one = NB201Benchmark(root=bench.root).table("cifar10-valid")
    two = NB201Benchmark(root=bench.root).table("cifar10-valid")
    assert one is not two and one.run_metrics is not two.run_metrics  # each reader its own table and dicts
    name = next(iter(one.run_metrics))
    assert one.run_metrics[name] is two.run_metrics[name]  # the arrays read once
    with pytest.raises(ValueError):
        one.run_metrics[name][0, 0, 0] = 0.0
    path = store.source_dir(bench.root, "nb201", bench.source) / "cifar10-valid.npz"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # rewritten, say: read and checked again
    three = NB201Benchmark(root=bench.root).table("cifar10-valid")
    assert three.run_metrics[name] is not one.run_metrics[name]
    np.testing.assert_array_equal(three.run_metrics[name], one.run_metrics[name])
    monkeypatch.setenv("NAS_EXP_SWEEP_CACHE", "0")
    assert NB201Benchmark(root=bench.root).table("cifar10-valid").run_metrics[name] is not three.run_metrics[name]
