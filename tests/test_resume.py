"""resume=true: a run killed with SIGKILL, started again in its folder, ends with the uninterrupted trajectory."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO, run_cli
from nas_exp.app import run_experiment
from nas_exp.resume import EVALUATIONS_FILE, config_differences
from nas_exp.trajectory import TrajectoryWriter, read_trajectory

pytestmark = pytest.mark.xdist_group("test_resume")  # one pytest worker: its module fixtures are built once

N_EVALUATIONS = 36
# 2 trees: SMAC 2.4's forest (max_leaf_nodes=2**20) spends ~0.1 s fitting each tree; the replay is the same
SMAC_RUN = ["optimizer=smac", "optimizer.n_trees=2", f"budget.max_evaluations={N_EVALUATIONS}", "seed=7"]
KILL_AFTER_ROWS = 16  # past SMAC's initial design (9 of 36), so the replay covers model-based proposals


def rows_without_wall_time(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(handle)]


def count_rows(path: Path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


def start_run(args: list[str], cwd: Path, store_root: Path) -> subprocess.Popen:
    env = {**os.environ, "NAS_EXP_DATA": str(store_root), "WANDB_MODE": "offline"}
    env.pop("PYTHONHASHSEED", None)
    return subprocess.Popen([sys.executable, str(REPO / "run.py"), *args, "progress=false"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_after(process: subprocess.Popen, trajectory: Path, n_rows: int, timeout: float = 120) -> int:
    """SIGKILL the run once its trajectory has ``n_rows`` rows; the rows it had then."""
    deadline = time.monotonic() + timeout
    while count_rows(trajectory) < n_rows:
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()}"
        assert time.monotonic() < deadline, "the run did not reach the rows to kill it at"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # run.py re-executes itself in place: this pid is the run
    process.wait()
    process.stderr.close()
    return count_rows(trajectory)


@pytest.fixture(scope="module")
def smac_runs(tmp_path_factory, store_root) -> dict[str, Path]:
    """An uninterrupted SMAC run, and the same run SIGKILLed after some rows and resumed."""
    root = tmp_path_factory.mktemp("resume")
    full, killed = root / "full", root / "killed"
    uninterrupted = start_run([*SMAC_RUN, f"hydra.run.dir={full}"], root, store_root)  # both at once: 2 cores
    process = start_run([*SMAC_RUN, f"hydra.run.dir={killed}"], root, store_root)
    rows_at_kill = kill_after(process, killed / "trajectory.csv", KILL_AFTER_ROWS)
    assert process.returncode == -signal.SIGKILL
    assert rows_at_kill < N_EVALUATIONS and not (killed / "result.json").exists()
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()
    uninterrupted.stderr.close()
    resumed = run_cli([*SMAC_RUN, f"hydra.run.dir={killed}", "resume=true"], root, store_root)
    assert resumed.returncode == 0, resumed.stderr
    return {"root": root, "full": full, "killed": killed, "rows_at_kill": rows_at_kill}


@pytest.mark.slow
def test_killed_smac_run_resumes_to_the_uninterrupted_trajectory(smac_runs):
    full, killed = smac_runs["full"], smac_runs["killed"]
    assert rows_without_wall_time(killed / "trajectory.csv") == rows_without_wall_time(full / "trajectory.csv")
    assert len(rows_without_wall_time(full / "trajectory.csv")) == N_EVALUATIONS
    # no re-evaluation: every evaluation was logged once, by the killed run or by the resumed one
    logged = (killed / EVALUATIONS_FILE).read_text().splitlines()
    assert len(logged) == len((full / EVALUATIONS_FILE).read_text().splitlines()) == N_EVALUATIONS
    result = json.loads((killed / "result.json").read_text())
    assert result["resumed_after"] >= smac_runs["rows_at_kill"] - 1 and result["n_evaluations"] == N_EVALUATIONS
    assert result["incumbent"] == json.loads((full / "result.json").read_text())["incumbent"]
    wall = [row.wall_time for row in read_trajectory(killed / "trajectory.csv")]
    assert wall == sorted(wall)  # resumed rows continue the killed run's clock


@pytest.mark.slow
def test_resuming_a_finished_run_only_reports_it(smac_runs, store_root):
    killed = smac_runs["killed"]
    before = (killed / "trajectory.csv").read_bytes()
    again = run_cli([*SMAC_RUN, f"hydra.run.dir={killed}", "resume=true"], smac_runs["root"], store_root)
    assert again.returncode == 0, again.stderr
    assert "finished already" in again.stdout and "incumbent:" in again.stdout
    assert (killed / "trajectory.csv").read_bytes() == before


@pytest.mark.slow
def test_resuming_with_another_config_is_one_clear_error(smac_runs, store_root):
    killed = smac_runs["killed"]
    before = (killed / "trajectory.csv").read_bytes()
    other = run_cli([*SMAC_RUN[:-1], "seed=8", f"hydra.run.dir={killed}", "resume=true"], smac_runs["root"],
                    store_root)
    assert other.returncode == 2
    lines = [line for line in other.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: cannot resume") and "seed: 7 -> 8" in lines[-1], other.stderr
    assert "Traceback" not in other.stderr
    assert (killed / "trajectory.csv").read_bytes() == before  # the folder is left as it was


@pytest.mark.slow
def test_a_recorded_arch_the_optimizer_does_not_propose_again_is_an_error(smac_runs, store_root, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(smac_runs["full"], tampered)
    (tampered / "result.json").unlink()
    lines = (tampered / "trajectory.csv").read_text().splitlines(keepends=True)
    cells = lines[5].split(",")  # evaluation 5
    other_arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert cells[1] != other_arch
    cells[1] = other_arch
    (tampered / "trajectory.csv").write_text("".join([*lines[:5], ",".join(cells), *lines[6:12]]))
    done = run_cli([*SMAC_RUN, f"hydra.run.dir={tampered}", "resume=true"], tmp_path, store_root)
    assert done.returncode == 2
    last = [line for line in done.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error: cannot resume") and "evaluation 5 was |none~0|" in last, done.stderr


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


def test_resume_replays_per_evaluation_random_draws(tmp_path, store_root, monkeypatch):
    """seed_policy=sample draws each evaluation's training run from (seed, evaluation index): evaluations after
    the replayed ones draw what they would have drawn in an uninterrupted run."""
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    overrides = ["optimizer=random", "budget.max_evaluations=30", "evaluation.seed_policy=sample", "seed=5",
                 "progress=false"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    run_experiment(compose_run(overrides), full)
    shutil.copytree(full, cut)
    (cut / "result.json").unlink()
    lines = (cut / "trajectory.csv").read_text().splitlines(keepends=True)
    (cut / "trajectory.csv").write_text("".join(lines[:13]) + lines[13][:25])  # 12 rows and a half-written one
    evaluations = (cut / EVALUATIONS_FILE).read_text().splitlines(keepends=True)
    (cut / EVALUATIONS_FILE).write_text("".join(evaluations[:9]) + evaluations[9][:30])  # fewer than the rows
    summary = run_experiment(compose_run([*overrides, "resume=true"]), cut)
    assert summary["resumed_after"] == 12
    assert rows_without_wall_time(cut / "trajectory.csv") == rows_without_wall_time(full / "trajectory.csv")
    assert any(row.value != row.incumbent_value for row in read_trajectory(cut / "trajectory.csv"))


def test_resume_true_in_a_fresh_folder_just_runs(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    summary = run_experiment(compose_run(["optimizer=random", "budget.max_evaluations=5", "resume=true",
                                          "progress=false"]), tmp_path / "run")
    assert summary["n_evaluations"] == 5 and "resumed_after" not in summary


def test_half_written_last_row_is_dropped_and_the_file_continues(tmp_path):
    from nas_exp.trajectory import TrajectoryRow

    rows = [TrajectoryRow(n, f"|a{n}|", None, 90.0 + n / 3, None, 10.0, 10.0 * n, 0.1 * n, 90.5, None, "|a1|",
                          False) for n in range(1, 5)]
    path = tmp_path / "trajectory.csv"
    with TrajectoryWriter(path) as writer:
        for row in rows:
            writer.write(row)
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 9])  # 3 rows and 8 bytes of the 4th
    assert read_trajectory(path) == rows[:3]
    with TrajectoryWriter(path, keep_rows=3) as writer:
        writer.write(rows[3])
    assert path.read_bytes() == whole


def test_config_differences_ignore_settings_that_do_not_change_results():
    recorded = {"seed": 1, "resume": False, "progress": True, "parallel": {"n_workers": 2, "backend": "threads"},
                "logger": {"_target_": "a"}}
    current = {"seed": 1, "resume": True, "progress": False, "parallel": {"n_workers": 2, "backend": "dask"},
               "logger": {"_target_": "b"}}
    assert config_differences(recorded, current) == []
    current["parallel"]["n_workers"] = 4
    assert config_differences(recorded, current) == ["parallel.n_workers: 2 -> 4"]
