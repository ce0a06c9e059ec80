"""Issue 14 (never lose or mix up a result): a run folder has one owner, a folder with results is not overwritten,
a budget can be extended, SIGINT/SIGTERM stop a run cleanly (resumable to the uninterrupted trajectory), and
storage or cluster failures are one `error:` line that leaves no half-written file. Real run.py subprocesses."""

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

from conftest import REPO, cli_command, cli_env, run_cli
from nas_exp.app import run_experiment
from nas_exp.errors import UserError
from nas_exp.resume import ResumeError
from nas_exp.run_folder import LOCK_FILE, RunFolderBusy, RunFolderHasResults, own_run_folder
from nas_exp.trajectory import read_trajectory

pytestmark = pytest.mark.xdist_group("test_run_folder_safety")  # module fixtures built once

RANDOM = ["optimizer=random", "seed=3"]
SMAC = ["optimizer=smac", "optimizer.n_trees=2", "seed=4"]
SMAC_EVALUATIONS = 30


def rows_without_wall_time(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(handle)]


def count_rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def start(args: list[str], cwd: Path, store_root: Path) -> subprocess.Popen:
    return subprocess.Popen(cli_command(args), cwd=cwd, env=cli_env(store_root), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_rows(process: subprocess.Popen, trajectory: Path, n_rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while count_rows(trajectory) < n_rows:
        if process.poll() is not None:
            pytest.fail(f"the run ended before {n_rows} rows: {process.stderr.read()}")
        assert time.monotonic() < deadline, "the run did not reach the rows to stop it at"
        time.sleep(0.02)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_valid_folder(folder: Path) -> None:
    """Every JSON file parses, the trajectory and evaluations.jsonl end in whole lines, no temp file is left."""
    for path in folder.rglob("*.json"):
        json.loads(path.read_text())  # raises on a half-written file
    assert not [p.name for p in folder.rglob(".*") if p.is_file() and p.name != LOCK_FILE and ".hydra" not in
                str(p)], "temporary files left behind"
    for name in ("trajectory.csv", "evaluations.jsonl"):
        if (folder / name).exists():
            assert (folder / name).read_bytes().endswith(b"\n")
    if (folder / "trajectory.csv").exists():
        read_trajectory(folder / "trajectory.csv")


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=[*overrides, "progress=false"])


# --- a folder with results is not overwritten ------------------------------------------------------------------

def test_rerun_without_resume_is_refused_and_the_results_are_untouched(tmp_path, store_root):
    folder = tmp_path / "run"
    first = run_cli([*RANDOM, "budget.max_evaluations=12", f"hydra.run.dir={folder}"], tmp_path, store_root)
    assert first.returncode == 0, first.stderr
    before = snapshot(folder)
    again = run_cli(["optimizer=smac", "budget.max_evaluations=5", f"hydra.run.dir={folder}"], tmp_path, store_root)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert error_lines(again.stderr) == [again.stderr.strip()], again.stderr
    assert "holds an earlier run's results" in again.stderr and "resume=true" in again.stderr
    assert "hydra.run.dir" in again.stderr
    assert snapshot(folder) == before  # .hydra/ included: Hydra was not started
    assert not (folder / "smac3").exists()


def test_refusal_inside_the_run_for_any_caller(tmp_path, store_root, monkeypatch):
    """run_experiment itself refuses (a multirun job, a requeued job, a caller of the API), under the lock."""
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    folder = tmp_path / "run"
    run_experiment(compose_run([*RANDOM, "budget.max_evaluations=5"]), folder)
    before = snapshot(folder)
    with pytest.raises(RunFolderHasResults, match="resume=true"):
        run_experiment(compose_run([*RANDOM, "budget.max_evaluations=5"]), folder)
    assert snapshot(folder) == before


# --- one owner -------------------------------------------------------------------------------------------------

def test_lock_names_its_owner_and_goes_with_the_run(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with own_run_folder(folder) as lock:
        assert f"pid={os.getpid()}" in lock.read_text()
        with pytest.raises(RunFolderBusy, match=rf"pid {os.getpid()} on host "):
            with own_run_folder(folder):
                pass
    assert not (folder / LOCK_FILE).exists()
    with own_run_folder(folder):  # free again
        pass


def test_second_process_is_refused_and_kill_9_frees_the_folder(tmp_path, store_root):
    """Two writers: the second (a manual resume beside a running job) gets one error line naming the owner, exit
    2, and changes nothing; the first, killed with SIGKILL, leaves a lock file that no longer holds the folder
    (tests/test_resume.py resumes SIGKILLed runs to the uninterrupted trajectory)."""
    folder = tmp_path / "run"
    args = [*RANDOM, "budget.max_evaluations=100000", f"hydra.run.dir={folder}"]  # runs until killed
    first = start(args, tmp_path, store_root)
    try:
        wait_for_rows(first, folder / "trajectory.csv", 50)
        hydra_files = snapshot(folder / ".hydra")
        second = run_cli([*args, "resume=true"], tmp_path, store_root)
        assert first.poll() is None, "the first run ended before the second started"
        assert second.returncode == 2, second.stderr
        assert error_lines(second.stderr) == [second.stderr.strip()], second.stderr
        assert f"pid {first.pid} on host" in second.stderr and str(folder) in second.stderr
        assert snapshot(folder / ".hydra") == hydra_files
        rows_before_kill = count_rows(folder / "trajectory.csv")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
        first.communicate()
    assert (folder / LOCK_FILE).exists()  # left by the killed owner, unlocked
    with own_run_folder(folder):
        pass
    rows = read_trajectory(folder / "trajectory.csv")  # the first's rows, whole, none of the second's
    assert len(rows) >= rows_before_kill and [row.n for row in rows] == list(range(1, len(rows) + 1))


# --- interruption ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, store_root) -> dict[str, Path]:
    """The uninterrupted runs the interrupted ones are compared with (random 1500, SMAC 30), run at once."""
    root = tmp_path_factory.mktemp("uninterrupted")
    runs = {"random": [*RANDOM, "budget.max_evaluations=1500"],
            "smac": [*SMAC, f"budget.max_evaluations={SMAC_EVALUATIONS}"]}
    processes = {name: start([*args, f"hydra.run.dir={root / name}"], root, store_root) for name, args in runs.items()}
    for name, process in processes.items():
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    return {name: root / name for name in runs}


@pytest.mark.parametrize(("optimizer", "signum", "stop_at"), [
    ("random", signal.SIGINT, 300),
    ("smac", signal.SIGTERM, 12),  # past SMAC's initial design; its run history matters here
])
def test_signal_stops_cleanly_and_resume_equals_the_uninterrupted_run(optimizer, signum, stop_at, uninterrupted,
                                                                      tmp_path, store_root):
    args = {"random": [*RANDOM, "budget.max_evaluations=1500"],
            "smac": [*SMAC, f"budget.max_evaluations={SMAC_EVALUATIONS}"]}[optimizer]
    folder = tmp_path / "run"
    process = start([*args, f"hydra.run.dir={folder}"], tmp_path, store_root)
    try:
        wait_for_rows(process, folder / "trajectory.csv", stop_at)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    resume_line = [line for line in err.splitlines() if line.startswith("interrupted by")]
    assert resume_line == [f"interrupted by {signal.Signals(signum).name}; continue with: python run.py "
                           f"{' '.join(args)} hydra.run.dir={folder} resume=true"], err
    result = json.loads((folder / "result.json").read_text())
    assert result["stop_reason"] == "interrupted" and result["interrupted_by"] == signal.Signals(signum).name
    n_rows = count_rows(folder / "trajectory.csv")
    assert stop_at <= result["n_evaluations"] == n_rows < len(rows_without_wall_time(uninterrupted[optimizer] /
                                                                                   "trajectory.csv"))
    assert_valid_folder(folder)
    assert not (folder / LOCK_FILE).exists()
    if optimizer == "smac":  # saved on the way out although save_every (100) tells had not passed
        history = json.loads(next(folder.glob("smac3/smac/*/runhistory.json")).read_text())
        assert len(history["data"]) >= n_rows
    resumed = run_cli([*args, f"hydra.run.dir={folder}", "resume=true"], tmp_path, store_root)
    assert resumed.returncode == 0, resumed.stderr
    assert (rows_without_wall_time(folder / "trajectory.csv")
            == rows_without_wall_time(uninterrupted[optimizer] / "trajectory.csv"))
    done = json.loads((folder / "result.json").read_text())
    assert done["stop_reason"] == "budget exhausted" and done["resumed_after"] == n_rows


def test_signal_handlers_are_restored_after_the_run(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    run_experiment(compose_run([*RANDOM, "budget.max_evaluations=3"]), tmp_path / "run")
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_a_signal_inside_a_deferred_block_stops_the_run_right_after_it():
    """SMAC's ask and tell run in ``deferred`` blocks: a SIGTERM arriving inside one (which once left SMAC's run
    history unsavable: its running-trial counter and list disagreed) is raised when the block ends, not inside."""
    from nas_exp.interruption import RunInterrupted, deferred, interruptible

    steps = []
    with interruptible():
        with pytest.raises(RunInterrupted) as stop:
            with deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here: it must only record the signal
                steps.append("the block finished")
        assert stop.value.signum == signal.SIGTERM and steps == ["the block finished"]
    with deferred():  # outside a run: nothing is held, nothing installed
        steps.append("outside")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and steps[-1] == "outside"


# --- extending a run's budget ----------------------------------------------------------------------------------

def test_finished_random_run_extended_equals_a_run_with_the_larger_budget(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    short, full = tmp_path / "short", tmp_path / "full"
    run_experiment(compose_run([*RANDOM, "budget.max_evaluations=10"]), short)
    summary = run_experiment(compose_run([*RANDOM, "budget.max_evaluations=25", "resume=true"]), short)
    assert summary["n_evaluations"] == 25 and summary["resumed_after"] == 10
    assert summary["extended_from"]["max_evaluations"] == 10
    run_experiment(compose_run([*RANDOM, "budget.max_evaluations=25"]), full)
    assert rows_without_wall_time(short / "trajectory.csv") == rows_without_wall_time(full / "trajectory.csv")
    with pytest.raises(ResumeError, match="extended, not shrunk"):
        run_experiment(compose_run([*RANDOM, "budget.max_evaluations=8", "resume=true"]), short)
    again = run_experiment(compose_run([*RANDOM, "budget.max_evaluations=25", "resume=true"]), short)
    assert again["n_evaluations"] == 25  # finished at that budget: only reported


def test_smac_run_extended_keeps_its_rows_and_is_reproducible(uninterrupted, tmp_path, store_root, monkeypatch):
    """SMAC sizes its initial design by its trial count, so an extended run is built with the budget it started
    with: its recorded rows replay, the new ones are what that SMAC proposes next, the same every time."""
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    extended = {}
    for name in ("a", "b"):
        folder = tmp_path / name
        shutil.copytree(uninterrupted["smac"], folder)
        summary = run_experiment(compose_run([*SMAC, f"budget.max_evaluations={SMAC_EVALUATIONS + 6}",
                                              "resume=true"]), folder)
        assert summary["n_evaluations"] == SMAC_EVALUATIONS + 6 and summary["resumed_after"] == SMAC_EVALUATIONS
        extended[name] = rows_without_wall_time(folder / "trajectory.csv")
    assert extended["a"][:SMAC_EVALUATIONS] == rows_without_wall_time(uninterrupted["smac"] / "trajectory.csv")
    assert extended["a"] == extended["b"] and len(extended["a"]) == SMAC_EVALUATIONS + 6


# --- storage and cluster failures ------------------------------------------------------------------------------

def mount_tmpfs(folder: Path, options: str) -> None:
    """Mount a small tmpfs at ``folder``, or skip with the reason it cannot be done here."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (a read-only or full folder cannot be made otherwise: root "
                    "ignores chmod)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs -o {options} is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def tmpfs(tmp_path):
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        folder = tmp_path / name
        mount_tmpfs(folder, options)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_folder_is_one_error_line(tmpfs, tmp_path, store_root):
    folder = tmpfs("ro", "ro,size=64k")
    done = run_cli([*RANDOM, "budget.max_evaluations=5", f"hydra.run.dir={folder / 'run'}"], tmp_path, store_root)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert error_lines(done.stderr) == [done.stderr.strip()], done.stderr
    assert "read-only file system" in done.stderr and "hydra.run.dir" in done.stderr
    assert list(folder.iterdir()) == []


def test_full_disk_is_one_error_line_and_leaves_whole_files(tmpfs, tmp_path, store_root):
    folder = tmpfs("full", "size=64k") / "run"
    done = run_cli([*RANDOM, "budget.max_evaluations=1500", f"hydra.run.dir={folder}"], tmp_path, store_root)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(error_lines(done.stderr)) == 1, done.stderr
    assert "no space left" in done.stderr and "resume=true" in done.stderr
    assert not (folder / "result.json").exists()
    assert_valid_folder(folder)
    assert 0 < count_rows(folder / "trajectory.csv") < 1500


def test_unreachable_dask_scheduler_is_one_error_and_no_half_folder(tmp_path, store_root, monkeypatch):
    pytest.importorskip("distributed")
    import nas_exp.parallel

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    monkeypatch.setattr(nas_exp.parallel, "SCHEDULER_CONNECT_S", 1)
    folder = tmp_path / "run"
    cfg = compose_run([*RANDOM, "budget.max_evaluations=4", "parallel.backend=dask", "parallel.n_workers=2",
                       "parallel.scheduler=tcp://127.0.0.1:9"])
    with pytest.raises(UserError, match=r"parallel.scheduler=tcp://127.0.0.1:9: no dask scheduler answered"):
        run_experiment(cfg, folder)
    assert not any((folder / name).exists() for name in ("trajectory.csv", "evaluations.jsonl", "config.json",
                                                         "result.json", LOCK_FILE))


def test_slurm_launcher_without_a_cluster_is_one_error_line(tmp_path, store_root):
    env = {**cli_env(store_root), "PATH": str(Path(sys.executable).parent)}  # no srun, no sbatch
    sweep = tmp_path / "sweep"
    done = subprocess.run(cli_command(["hydra/launcher=slurm", "-m", *RANDOM, "budget.max_evaluations=3",
                                       f"hydra.sweep.dir={sweep}"]), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert error_lines(done.stderr) == [done.stderr.strip()], done.stderr
    assert "needs a SLURM cluster" in done.stderr
    assert not sweep.exists()


def test_storage_errors_name_the_file_and_the_fix():
    import errno

    from nas_exp.errors import storage_error

    full = storage_error(OSError(errno.ENOSPC, "No space left on device", "/d/run/trajectory.csv"))
    assert "cannot write /d/run/trajectory.csv: no space left" in str(full) and "resume=true" in str(full)
    denied = storage_error(PermissionError(errno.EACCES, "Permission denied", "/d/run"))
    assert str(denied).startswith("permission denied on /d/run;") and "hydra.run.dir" in str(denied)
    assert storage_error(FileNotFoundError(errno.ENOENT, "No such file", "/d/x")) is None  # not a storage failure


def test_budget_may_grow_but_not_shrink_or_change_kind():
    from nas_exp.resume import budget_grows

    evals = {"_target_": "B", "max_evaluations": 10, "max_simulated_seconds": None}
    assert budget_grows(evals, {**evals, "max_evaluations": 20}) is True
    assert budget_grows(evals, evals) is False
    with pytest.raises(ValueError, match="not shrunk"):
        budget_grows(evals, {**evals, "max_evaluations": 9})
    with pytest.raises(ValueError, match="cannot be added or removed"):
        budget_grows(evals, {**evals, "max_simulated_seconds": 100.0})


def test_a_signal_someone_else_handles_is_left_to_them():
    """submitit's SLURM jobs install their own SIGTERM handler (it bypasses SIGTERM; SIGUSR2 requeues): a run
    inside one keeps it, so requeueing and time limits work as before; SIGINT is still ours."""
    from nas_exp.interruption import interruptible

    def submitit_like(signum, frame) -> None:  # pragma: no cover - never called
        pass

    before = signal.signal(signal.SIGTERM, submitit_like)
    try:
        with interruptible() as state:
            assert signal.getsignal(signal.SIGTERM) is submitit_like
            assert signal.getsignal(signal.SIGINT) == state.handle
        assert signal.getsignal(signal.SIGTERM) is submitit_like
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)
