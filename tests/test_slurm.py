"""SLURM for real: a single-node cluster started by the session (tests/slurm_cluster.py, fixture ``slurm``) runs
a sweep as one job array (hydra/launcher=slurm), requeues a job mid-run that then resumes, reports a failed job,
and hosts the dask workers of one run (parallel.cluster=slurm). Skipped where the cluster cannot run (not root, no
SLURM binaries): the reason is in the skip message."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import cli_command, cli_env, run_cli
from nas_exp.parallel import (ParallelConfigError, ParallelSettings, SlurmWorkers, WorkerStartError,
                              evaluation_pool, parallel_settings)
from nas_exp.app import run_experiment
from test_launchers import compose_run, rows_without_wall_time, sweep_jobs

# one CPU and 1 GB per job: two jobs at a time on a 2-core node
FIT_NODE = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]


def complete_rows(path: Path) -> int:
    """Rows of a trajectory.csv a run may be writing (a half-written last line not counted)."""
    return max(path.read_text().count("\n") - 1, 0) if path.is_file() else 0


# --- hydra/launcher=slurm ------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.xdist_group("slurm")  # one pytest worker, one cluster (make test: --dist loadgroup)
def test_a_sweep_is_one_job_array_with_the_basic_launchers_trajectories_and_its_failure_summary(
        tmp_path, store_root, slurm, monkeypatch):
    run = ["optimizer=random", "budget.max_evaluations=30"]
    (tmp_path / "slurm").mkdir()
    done = run_cli([*run, *FIT_NODE, "-m", "seed=0,1,2,3,abc"], tmp_path / "slurm", store_root)
    # the job with a bad seed failed alone, in its array task, and the sweep says so
    assert done.returncode == 1, done.stderr
    assert "error: 1 of 5 jobs failed" in done.stderr
    assert "#4 " in done.stderr and "seed must be a non-negative int, got 'abc'" in done.stderr
    jobs = sweep_jobs(tmp_path / "slurm")
    failure = json.loads((jobs[4] / "failed.json").read_text())
    assert failure["user_error"] and "got 'abc'" in failure["message"]

    # one job array, one task per run, all on the node
    task_folders = sorted(p.name for p in (jobs[0].parent / ".submitit").iterdir() if re.match(r"\d+_\d+$", p.name))
    array_id = task_folders[0].split("_")[0]
    assert task_folders == [f"{array_id}_{task}" for task in range(5)]
    wait_until_gone(slurm)
    tasks = slurm.show_jobs(array_id)
    assert sorted(int(t["ArrayTaskId"]) for t in tasks) == [0, 1, 2, 3, 4]
    assert {t["ArrayJobId"] for t in tasks} == {array_id} and {t["NodeList"] for t in tasks} == {slurm.node}
    assert {t["JobState"] for t in tasks} == {"COMPLETED"}  # a failed run is recorded, its task still ends well
    script = (jobs[0].parent / ".submitit" / array_id / f"{array_id}_submission.sh").read_text()
    for line in ("#SBATCH --array=0-4%5", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=1GB", "#SBATCH --time=60",
                 "export PYTHONHASHSEED=0"):
        assert line in script, script

    # each run's trajectory is the basic launcher's (which runs a job as run_experiment here does)
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    for seed, job in enumerate(jobs[:4]):
        run_experiment(compose_run([*run, f"seed={seed}", "progress=false"]), tmp_path / f"basic{seed}")
        rows = rows_without_wall_time(job / "trajectory.csv")
        assert len(rows) == 30 and rows == rows_without_wall_time(tmp_path / f"basic{seed}" / "trajectory.csv")


def wait_until_gone(slurm, timeout: float = 30) -> None:
    """Wait until squeue lists no job (a run's result is read while its job still ends)."""
    deadline = time.monotonic() + timeout
    while slurm.jobs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert slurm.jobs() == []


def wait_for_rows(trajectory: Path, rows: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while complete_rows(trajectory) < rows:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the run did not reach {rows} rows (exit {process.returncode}):\n{err[-3000:]}")
        time.sleep(0.1)


def run_pids(slurm, job_id: str) -> list[int]:
    """The processes of the job's first srun step (submitit's, which runs the run), from `scontrol listpids`."""
    listed = slurm.run("scontrol", "listpids", job_id).stdout.splitlines()[1:]
    pids = [int(line.split()[0]) for line in listed if len(line.split()) >= 3 and line.split()[2] == "0"]
    assert pids, listed
    return pids


def wait_until_ended(slurm, job_id: str, timeout: float = 60) -> str:
    """Wait until a killed job has ended (its processes are gone; COMPLETING lasts a few seconds); its state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = slurm.show_jobs(job_id)[0]["JobState"]
        if state not in ("RUNNING", "COMPLETING"):
            return state
        time.sleep(0.1)
    pytest.fail(f"job {job_id} has not ended {timeout:.0f} s after SIGKILL")


@contextmanager
def started(args: list[str], cwd: Path, store_root: Path) -> Iterator[subprocess.Popen]:
    """`python run.py ARGS` in the background; killed if still running when the block ends."""
    cwd.mkdir(exist_ok=True)
    process = subprocess.Popen(cli_command(args), cwd=cwd, env=cli_env(store_root), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def first_job_dir(sweep_root: Path, process: subprocess.Popen, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = list(sweep_root.glob("outputs/multirun/*/*/0_*"))
        if found:
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"no job folder under {sweep_root} (sweep exit {process.poll()})")


@pytest.mark.slow
@pytest.mark.xdist_group("slurm")
def test_a_job_requeued_mid_run_resumes_to_the_trajectory_of_an_uninterrupted_run(tmp_path, store_root, slurm):
    run = ["optimizer=smac", "budget.max_evaluations=200", "seed=5"]
    # the uninterrupted run on this machine, while the SLURM one runs
    with started([*run, f"hydra.run.dir={tmp_path / 'alone'}"], tmp_path, store_root) as alone, \
            started([*run, *FIT_NODE, "resume=true", "-m", "seed=5"], tmp_path / "slurm", store_root) as sweep:
        job_dir = first_job_dir(tmp_path / "slurm", sweep)
        wait_for_rows(job_dir / "trajectory.csv", 10, sweep)
        # submitit's folder of the job: JOBID (a sweep of one run is a plain job) or ARRAYID_TASK
        task = next(job_dir.parent.glob(".submitit/*/*_log.out")).parent.name
        # the run killed at once, as by the OOM killer (`scontrol requeue` or scancel send SIGTERM, which submitit
        # ignores, and SIGKILL only 5+ s later: too late to be sure the run is still going), then requeued: the
        # same job runs again, in the same folder, with the same command
        for pid in run_pids(slurm, task):
            os.kill(pid, signal.SIGKILL)
        assert wait_until_ended(slurm, task) in ("FAILED", "CANCELLED")
        killed_at = complete_rows(job_dir / "trajectory.csv")
        assert 10 <= killed_at < 200 and not (job_dir / "result.json").exists(), killed_at  # killed mid-run
        slurm.run("scontrol", "requeue", task)

        _, err = sweep.communicate(timeout=240)
        assert sweep.returncode == 0, err[-3000:]
        _, alone_err = alone.communicate(timeout=240)
        assert alone.returncode == 0, alone_err[-3000:]
    assert slurm.show_jobs(task)[0]["Restarts"] == "1"  # the same job ran again ...
    result = json.loads((job_dir / "result.json").read_text())
    assert result["resumed_after"] == killed_at and result["n_evaluations"] == 200  # ... and went on from there
    resumed = rows_without_wall_time(job_dir / "trajectory.csv")
    assert len(resumed) == 200 and resumed == rows_without_wall_time(tmp_path / "alone" / "trajectory.csv")


# --- parallel.cluster=slurm ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.xdist_group("slurm")
def test_dask_workers_in_slurm_jobs_give_the_threads_trajectory(tmp_path, store_root, slurm, monkeypatch):
    # random search: proposals do not depend on results, so a result told for the wrong request shows in the rows
    run = ["optimizer=random", "budget.max_evaluations=30", "seed=2", "parallel.n_workers=2"]
    done = run_cli([*run, "parallel.backend=dask", "parallel.cluster=slurm", "parallel.slurm.memory=1GB",
                    f"hydra.run.dir={tmp_path / 'slurm'}"], tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    run_experiment(compose_run([*run, "parallel.backend=threads", "progress=false"]), tmp_path / "threads")
    rows = rows_without_wall_time(tmp_path / "slurm" / "trajectory.csv")
    assert len(rows) == 30 and rows == rows_without_wall_time(tmp_path / "threads" / "trajectory.csv")

    # the workers ran as SLURM jobs: each saw its own SLURM_JOB_ID, those jobs ran on the node and were cancelled
    # when the run ended, and their logs are in the run folder
    workers = json.loads((tmp_path / "slurm" / "dask-workers" / "workers.json").read_text())["slurm_job_ids"]
    worker_jobs = sorted(workers.values(), key=int)
    assert len(workers) == 2 and len(set(worker_jobs)) == 2, workers
    assert f"parallel: 2 dask workers in SLURM jobs {', '.join(workers.values())}" in done.stderr
    wait_until_gone(slurm)
    finished = {job["JobId"]: job for job in slurm.finished_jobs()}
    for job in worker_jobs:
        assert finished[job]["Name"] == "nas-exp-worker" and finished[job]["NodeList"] == slurm.node
        assert finished[job]["JobState"] == "CANCELLED"
        assert (tmp_path / "slurm" / "dask-workers" / f"nas-exp-worker-{job}.err").is_file()
    assert slurm.jobs() == []


@pytest.mark.slow
@pytest.mark.xdist_group("slurm")
def test_slurm_workers_that_cannot_start_are_one_error(tmp_path, slurm):
    refused = ParallelSettings(n_workers=2, backend="dask", cluster="slurm", slurm=SlurmWorkers(cores=512))
    with pytest.raises(WorkerStartError, match="SLURM refuses the dask workers' job .*Requested node configuration"):
        with evaluation_pool(refused, tmp_path):
            pass
    held = ParallelSettings(n_workers=2, backend="dask", cluster="slurm",  # queued, never started
                            slurm=SlurmWorkers(memory="1GB", job_extra=("--begin=now+1hour",), start_timeout_s=2))
    with pytest.raises(WorkerStartError, match=r"0 of 2 dask workers started within 2 s"):
        with evaluation_pool(held, tmp_path):
            pass
    wait_until_gone(slurm)  # the queued worker jobs are cancelled


# --- settings (no cluster needed) ----------------------------------------------------------------------------------

@pytest.mark.parametrize("node, message", [
    ({"cluster": "pbs"}, "unknown parallel.cluster 'pbs'; valid: local, slurm"),
    ({"cluster": "slurm"}, "parallel.cluster=slurm runs dask workers in SLURM jobs: it needs parallel.backend=dask"),
    ({"cluster": "slurm", "backend": "dask", "scheduler": "tcp://h:8786"}, "starts its own scheduler"),
    ({"n_workers": 1, "cluster": "slurm", "backend": "dask", "simulate_workers": 4}, "excludes parallel.cluster"),
    ({"slurm": {"memory": "lots"}}, "parallel.slurm.memory must be an amount like 4GB or 500MB, got 'lots'"),
    ({"slurm": {"walltime": "1h"}}, "parallel.slurm.walltime must be a SLURM time like 01:00:00"),
    ({"slurm": {"cores": 0}}, "parallel.slurm.cores must be a positive number, got 0"),
    ({"slurm": {"job_extra": "gpus"}}, "parallel.slurm.job_extra must be a list of sbatch options"),
    ({"slurm": {"gpus": 1}}, "unknown parallel.slurm setting(s) gpus; valid: cores, memory, walltime, queue"),
])
def test_bad_cluster_settings_are_one_line_errors(node, message):
    with pytest.raises(ParallelConfigError) as caught:
        parallel_settings({"n_workers": 2, "cluster": "local", **node})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_cluster_settings_are_read_from_the_config_node():
    settings = parallel_settings({"n_workers": 3, "backend": "dask", "cluster": "slurm",
                                  "slurm": {"cores": 4, "memory": "16GB", "walltime": "2-00:00:00", "queue": "gpu",
                                            "job_extra": ["--gpus-per-task=1"]}})
    assert settings.slurm == SlurmWorkers(cores=4, memory="16GB", walltime="2-00:00:00", queue="gpu",
                                          job_extra=("--gpus-per-task=1",))
    assert parallel_settings({"n_workers": 2}).cluster == "local"


def test_slurm_workers_without_sbatch_are_one_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = ParallelSettings(n_workers=2, backend="dask", cluster="slurm")
    with pytest.raises(WorkerStartError, match="parallel.cluster=slurm needs SLURM's sbatch on PATH"):
        with evaluation_pool(settings, tmp_path):
            pass
