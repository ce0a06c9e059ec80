"""A real single-node SLURM for the tests: munged, slurmctld and slurmd started from a slurm.conf written into a
temp folder, owned (and stopped) by the test session.

Everything lives in that folder: its own munge key and socket, state, spool, logs and pid files, ports picked free
outside the kernel's ephemeral range. Clients find the cluster through ``SLURM_CONF`` (``SlurmCluster.env``).
Nothing is written to /etc and no system service is touched, so a session can run beside another one.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "sbatch", "squeue", "scontrol", "scancel", "srun")
PORT_LOW, PORT_HIGH = 61000, 65400  # above the ephemeral range (32768-60999), so no client socket takes one
SRUN_PORTS = 100


class ClusterStartError(RuntimeError):
    """The daemons were started but the node did not come up (the message has their log tails)."""


def _which(name: str) -> str | None:
    return shutil.which(name) or next((str(Path(d) / name) for d in ("/usr/sbin", "/sbin")
                                       if (Path(d) / name).is_file()), None)


def cannot_start_reason() -> str | None:
    """Why this machine cannot run the test cluster, or None when it can."""
    if os.geteuid() != 0:
        return "a real SLURM needs root (the daemons run as root here); run the tests as root"
    missing = [name for name in (*DAEMONS, *CLIENTS, "mungekey") if _which(name) is None]
    if missing:
        return (f"SLURM/munge binaries not found: {', '.join(missing)} "
                "(apt-get install slurmctld slurmd slurm-client munge; .ci/run does)")
    return None


# --- slurm.conf -------------------------------------------------------------------------------------------------

def node_line() -> str:
    """This machine's NodeName line as ``slurmd -C`` measures it (CPUs, sockets, cores, threads, memory)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("NodeName="))
    fields = dict(part.split("=", 1) for part in line.split())
    fields["NodeName"] = socket.gethostname().split(".")[0]
    return " ".join(f"{k}={v}" for k, v in fields.items()) + " NodeAddr=127.0.0.1 State=UNKNOWN"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_ports(rng: random.Random) -> tuple[int, int, int]:
    """slurmctld's port, slurmd's port and the first of SRUN_PORTS ports for srun, all free now."""
    while True:
        start = rng.randrange(PORT_LOW, PORT_HIGH - SRUN_PORTS - 2)
        ports = range(start, start + SRUN_PORTS + 2)
        if all(_port_is_free(port) for port in ports[:2]) and sum(map(_port_is_free, ports[2:])) > SRUN_PORTS // 2:
            return start, start + 1, start + 2


def slurm_conf(root: Path, host: str, node: str, ports: tuple[int, int, int]) -> str:
    ctld_port, slurmd_port, srun_low = ports
    lines = {
        "ClusterName": "nasexp",
        "SlurmctldHost": f"{host}(127.0.0.1)",
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "SlurmctldPort": ctld_port,
        "SlurmdPort": slurmd_port,
        "SrunPortRange": f"{srun_low}-{srun_low + SRUN_PORTS - 1}",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        # our own munged; cred_expire also sets how long a requeued job waits before it may start again (120 s)
        "AuthInfo": f"socket={root / 'munge' / 'munge.socket'},cred_expire=5",
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "run" / "slurmctld.pid",
        "SlurmdPidFile": root / "run" / "slurmd.pid",
        "SlurmctldLogFile": root / "log" / "slurmctld.log",
        "SlurmdLogFile": root / "log" / "slurmd.log",
        "SlurmctldDebug": "info",
        "SlurmdDebug": "info",
        "PlugStackConfig": root / "plugstack.conf",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/filetxt",  # one line per finished job: what ran, without slurmdbd
        "JobCompLoc": root / "log" / "jobcomp.log",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        "SchedulerType": "sched/backfill",
        "SchedulerParameters": "sched_interval=1,bf_interval=1",  # a requeued job starts once its wait is over
        "MpiDefault": "none",
        "MailProg": "/bin/true",
        "ReturnToService": 2,
        "JobRequeue": 1,
        "KillWait": 2,  # seconds between SIGTERM and SIGKILL when a job is cancelled or requeued
        "MessageTimeout": 5,
        "SlurmctldTimeout": 30,
        "SlurmdTimeout": 30,
        "InactiveLimit": 0,
        "MinJobAge": 300,  # finished jobs stay visible to scontrol for 5 minutes
        "Waittime": 0,
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"{body}\n{node}\nPartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"


# --- the daemons ------------------------------------------------------------------------------------------------

@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    node: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=check)

    def node_state(self) -> str:
        done = self.run("sinfo", "--noheader", "--nodes", self.node, "--format=%T", check=False, timeout=15)
        return done.stdout.strip() if done.returncode == 0 else f"sinfo failed: {done.stderr.strip()}"

    def jobs(self) -> list[str]:
        """``JOBID STATE NAME`` of every job still known to squeue (array tasks one per line)."""
        done = self.run("squeue", "--noheader", "--array", "--format=%i %T %j", check=False, timeout=15)
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def show_jobs(self, job_id: str) -> list[dict[str, str]]:
        """``scontrol show job`` records of a job (an array: one per task), while SLURM remembers it."""
        done = self.run("scontrol", "--oneliner", "show", "job", job_id, timeout=15)
        return [_fields(line) for line in done.stdout.splitlines() if line.strip()]

    def finished_jobs(self) -> list[dict[str, str]]:
        """Every job that ended since the cluster started, from the job completion log (jobcomp/filetxt)."""
        path = self.root / "log" / "jobcomp.log"
        return [_fields(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        for name, process in self.processes.items():
            if process.poll() is not None:
                parts.append(f"--- {name} exited with {process.returncode}")
        return "\n".join(parts)

    def wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.node_state()
            if state == "idle":
                return
            dead = [name for name, process in self.processes.items() if process.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        raise ClusterStartError(f"the test SLURM node {self.node} is not idle after {timeout:.0f} s "
                                f"(last state: {state!r}); daemon logs:\n{self.log_tail()}")

    def cancel_all(self, timeout: float = 20) -> None:
        self.run("scancel", "--full", "--user", "root", check=False)
        deadline = time.monotonic() + timeout
        while self.jobs() and time.monotonic() < deadline:
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel every job, then stop slurmd, slurmctld and munged (in that order) and wait for them."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            self.cancel_all()
        for name in reversed(list(self.processes)):
            _stop(self.processes[name])


def _fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def _start(cluster: SlurmCluster, name: str, args: list[str]) -> None:
    log = open(cluster.root / "log" / f"{name}.out", "ab")
    cluster.processes[name] = subprocess.Popen([_which(name), *args], env=cluster.env, stdout=log,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()


def _wait_for(path: Path, cluster: SlurmCluster, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or cluster.processes[what].poll() is not None:
            raise ClusterStartError(f"{what} did not start ({path} missing); logs:\n{cluster.log_tail()}")
        time.sleep(0.1)


def start_munge(cluster: SlurmCluster) -> None:
    """A fresh key and a munged of our own, on a socket in the cluster folder."""
    folder = cluster.root / "munge"
    folder.mkdir(mode=0o700)
    key = folder / "munge.key"
    subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True,
                   timeout=30)
    key.chmod(0o400)
    _start(cluster, "munged", ["--foreground", "--force", f"--socket={folder / 'munge.socket'}",
                               f"--key-file={key}", f"--log-file={cluster.root / 'log' / 'munged.log'}",
                               f"--pid-file={folder / 'munged.pid'}", f"--seed-file={folder / 'munged.seed'}"])
    _wait_for(folder / "munge.socket", cluster, "munged")


def start_cluster(root: Path, timeout: float = 60, seed: int | None = None) -> SlurmCluster:
    """Write the config into ``root``, start the daemons and wait until the node is idle. On failure the daemons
    already started are stopped and ClusterStartError says why."""
    root = Path(root)
    for sub in ("state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "plugstack.conf").write_text("")
    host = socket.gethostname().split(".")[0]
    node = node_line()
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, host, node, free_ports(random.Random(seed))))
    cluster = SlurmCluster(root, conf, node=host)
    try:
        start_munge(cluster)
        _start(cluster, "slurmctld", ["-D", "-i", "-f", str(conf)])
        _wait_for(root / "run" / "slurmctld.pid", cluster, "slurmctld")
        _start(cluster, "slurmd", ["-D", "-f", str(conf)])
        cluster.wait_until_idle(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
