"""The command line of nas-exp: ``python run.py ...`` and the ``nas-exp`` console script (pyproject
``[project.scripts]``) are the same program: Hydra overrides, ``-m`` sweeps, ``--version``.

``entry`` is the console script; ``run.py`` fixes the hash seed itself and calls ``cli``. Everything a run
prints goes through ``nas_exp.run_log`` as well, so that it lands in the run folder's run.log."""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import sys
import tomllib
import traceback
from importlib import metadata
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import (ConfigCompositionException, MissingConfigException, OverrideParseException,
                          SearchPathException)
from hydra.types import RunMode
from omegaconf import DictConfig

from nas_exp.app import USER_ERRORS, fail, run_experiment
from nas_exp.components import unknown_top_level_key
from nas_exp.data.paths import absolute_env_root, absolute_path
from nas_exp.errors import launcher_error, storage_error
from nas_exp.failures import clear_failure, failure_from, run_isolated, write_failure
from nas_exp.interruption import RunInterrupted
from nas_exp.run_folder import (LOCK_FILE, RunFolderError, busy_error, earlier_results, folder_busy,
                                results_error)
from nas_exp.run_log import log_only, say_stderr
from nas_exp.sweep_folder import remove_unstarted_sweep

PACKAGE = "nas-exp"
CHECKOUT = Path(__file__).resolve().parents[1]
CONFIG_DIR = CHECKOUT / "conf"  # the checkout's conf/ (the package is installed editable, see README)
HYDRA_USER_ERRORS = (ConfigCompositionException, OverrideParseException, SearchPathException)
STORE_PATHS = (("evaluation", "root"), ("optimizer", "cache_root"))  # store roots given in the config


def absolute_store_paths(cfg: DictConfig, cwd: str) -> None:
    """Make the store roots of ``cfg`` absolute against ``cwd``, the directory the command was started in
    (Hydra's ``runtime.cwd``), so that ``hydra.job.chdir=true`` reads the same store (and result.json names it)."""
    for group, key in STORE_PATHS:
        node = cfg.get(group)
        if node is not None and isinstance(node.get(key), str):
            node[key] = absolute_path(node[key], cwd)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    absolute_store_paths(cfg, hydra_cfg.runtime.cwd)
    try:
        if hydra_cfg.mode == RunMode.MULTIRUN:  # one failing job must not stop the sweep (nas_exp/failures.py)
            run_isolated(lambda: run_experiment(cfg, run_dir), hydra_cfg.job.num, run_dir, overrides, USER_ERRORS,
                         passthrough=(RunFolderError,))
            return
        clear_failure(run_dir)  # of an earlier attempt in this folder (e.g. before resume=true)
        run_experiment(cfg, run_dir)
    except RunFolderError as err:  # another run's folder: nothing in it is touched, nothing removed
        fail(str(err))
        sys.exit(2)
    except RunInterrupted as stop:
        remove_if_unstarted(run_dir, hydra_cfg.job.name)
        say_stderr(f"interrupted by {stop.signal_name}; continue with: {resume_command(overrides, run_dir)}")
        sys.exit(stop.exit_code)
    except USER_ERRORS as err:
        fail(str(err))
        remove_if_unstarted(run_dir, hydra_cfg.job.name)
        sys.exit(2)
    except Exception as err:
        write_failure(failure_from(err, 0, run_dir, overrides, user_error=False))
        log_only(f"the run crashed: {type(err).__name__}: {err}", logging.ERROR, exc_info=err)  # cli prints it
        raise


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """The command line that continues the run in ``run_dir``."""
    kept = [o for o in overrides if not re.match(r"^\+{0,2}resume=", o) and o != "progress=false"]
    return shlex.join(["python", "run.py", *kept, f"hydra.run.dir={run_dir}", "resume=true"])


def only_hydra_files(run_dir: Path, job_name: str) -> bool:
    """Whether the folder holds nothing but what Hydra and a stopped start wrote (so removing it loses nothing,
    also when hydra.run.dir points at a folder of the user's)."""
    ours = {".hydra", f"{job_name}.log", "smac3", LOCK_FILE}
    return run_dir.is_dir() and all(entry.name in ours for entry in run_dir.iterdir())


def remove_if_unstarted(run_dir: Path, job_name: str) -> None:
    """Remove a folder the run stopped in before writing any result (nothing half-written left behind)."""
    if not (run_dir / "trajectory.csv").exists() and only_hydra_files(run_dir, job_name):
        shutil.rmtree(run_dir, ignore_errors=True)


def single_run_dir(argv: list[str]) -> Path | None:
    """The folder a single run was pointed at with ``hydra.run.dir=DIR`` on the command line (None: a multirun,
    Hydra's timestamped default, or a folder named with interpolations)."""
    if any(flag in argv for flag in ("-m", "--multirun")):
        return None
    given = [arg.split("=", 1)[1] for arg in argv[1:] if re.match(r"^\+{0,2}hydra\.run\.dir=", arg)]
    if not given or "${" in given[-1]:
        return None
    return Path(given[-1])


def resume_requested(argv: list[str]) -> bool | None:
    """``resume=...`` as given on the command line: True, False, or None when absent or not a plain bool."""
    given = [arg.split("=", 1)[1].strip().lower() for arg in argv[1:] if re.match(r"^\+{0,2}resume=", arg)]
    if not given:
        return None
    return {"true": True, "false": False}.get(given[-1])


def check_run_dir_first(argv: list[str]) -> None:
    """Before Hydra writes its files into a fixed ``hydra.run.dir``: refuse a folder another process owns, or one
    holding results without resume=true, so that nothing of the other run is touched. (``run_experiment`` checks
    again under the lock, for every way of starting a run.)"""
    run_dir = single_run_dir(argv)
    if run_dir is None or not run_dir.is_dir():
        return
    if folder_busy(run_dir):
        raise busy_error(run_dir)
    found = earlier_results(run_dir)
    if found and resume_requested(argv) is not True and not any(arg.startswith(("experiment=", "--config-name",
                                                                                 "-cn")) for arg in argv[1:]):
        raise results_error(run_dir, found)


def swept_groups(argv: list[str]) -> set[str]:
    """Config groups a multirun command line sweeps over (``optimizer=darts,gdas`` -> {"optimizer"})."""
    if not any(flag in argv for flag in ("-m", "--multirun")):
        return set()
    pairs = (arg.split("=", 1) for arg in argv[1:] if "=" in arg and not arg.startswith("-"))
    return {key for key, value in pairs if "," in value and "." not in key and not key.startswith("+")}


def hydra_error_line(err: Exception, swept: set[str] = frozenset()) -> str:
    """Hydra's multi-line composition errors as one line; an unknown group option lists the valid ones; a key of
    a swept group's options that its default option lacks gets the override that works (``++key=value``)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    missing_key = re.match(r"Could not override '([^']+)'", lines[0]) if lines else None
    if missing_key and missing_key.group(1).split(".")[0] in swept:
        key = missing_key.group(1)
        return (f"Could not override '{key}': a multirun first composes the default option of each swept group, "
                f"which has no such key; write ++{key}=VALUE to set it in the swept options")
    if missing_key and "." not in missing_key.group(1):  # Hydra's "+key=" advice would add a key nobody reads
        return unknown_top_level_key(missing_key.group(1))
    if isinstance(err, MissingConfigException) and err.options:
        group = next((line for line in lines if line.startswith("Available options in")), "")
        group = group.removeprefix("Available options in ").rstrip(":") or "the group"
        return f"{lines[0]}; valid options in {group}: {', '.join(err.options)}"
    if isinstance(err, OverrideParseException):
        return f"cannot parse override {err.override!r}: {lines[0] if lines else err.message}"
    detail = ("full_key:", "object_type=", "reference_type=", "Config search path", "provider=")
    return " ".join(line for line in lines if not line.startswith(detail))


def print_crash(err: BaseException) -> None:
    """A crash's traceback without Hydra's own frames (as Hydra shows it unless HYDRA_FULL_ERROR=1)."""
    report = traceback.TracebackException.from_exception(err)
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if f"{os.sep}hydra{os.sep}" not in frame.filename])
    print("".join(report.format()), file=sys.stderr, end="")


def print_error(message: str) -> None:
    """An ``error:`` line of the command line itself, outside any run: stderr only (logging here would reach
    Hydra's own log handlers, not a run's log, and print the line twice)."""
    print(f"error: {message}", file=sys.stderr)


def cli() -> None:
    """run.py's command line: Hydra's own errors (unknown option, bad override) become one `error:` line, exit 2;
    a crash prints its traceback, exit 1. HYDRA_FULL_ERROR=1 set by the user keeps Hydra's full report."""
    user_wants_full_errors = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then raises its errors to us instead of printing and exiting
    try:
        check_run_dir_first(sys.argv)
        main()
    except RunFolderError as err:
        print_error(str(err))
        sys.exit(2)
    except HYDRA_USER_ERRORS as err:
        remove_unstarted_sweep()  # a sweep whose jobs could not be composed: its folder holds only multirun.yaml
        if user_wants_full_errors:
            raise
        print_error(hydra_error_line(err, swept_groups(sys.argv)))
        sys.exit(2)
    except RunInterrupted as stop:  # a sweep stopped by a signal in one of its jobs (its line is printed)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:  # before a run started: nothing to resume
        remove_unstarted_sweep()
        print("interrupted before the run started; nothing was written", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        infrastructure = launcher_error(err) or (storage_error(err) if isinstance(err, OSError) else None)
        if infrastructure is not None and not user_wants_full_errors:
            remove_unstarted_sweep()
            print_error(str(infrastructure))
            sys.exit(2)
        if user_wants_full_errors:
            raise
        print_crash(err)
        sys.exit(1)


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's parser stops taking overrides at the first flag, so `run.py a=b -m seed=0,1` would reject
    `seed=0,1`. Move the bare mode flags in front of the overrides; everything else keeps its order."""
    mode_flags = ("-m", "--multirun", "--run", "-r")
    return [argv[0], *[a for a in argv[1:] if a in mode_flags], *[a for a in argv[1:] if a not in mode_flags]]


def version() -> str:
    """The package version: the checkout's pyproject.toml where the code runs from one (``python run.py`` with
    PYTHONPATH, an editable install), else the installed distribution's."""
    pyproject = CHECKOUT / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        if project.get("name") == PACKAGE:
            return str(project["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def print_version_if_asked(argv: list[str]) -> None:
    """``--version`` (or ``-V``) anywhere among the arguments: print ``nas-exp VERSION`` and exit 0, before Hydra
    (which would read it as an unknown flag) parses anything."""
    if any(arg in ("--version", "-V") for arg in argv[1:]):
        print(f"{PACKAGE} {version()}")
        sys.exit(0)


def run_command_line() -> None:
    """What ``python run.py`` and ``nas-exp`` do once the hash seed is fixed: ``--version``, or a run."""
    print_version_if_asked(sys.argv)
    # A relative $NAS_EXP_DATA means the folder under the directory the command was started in, also after Hydra
    # changes the working directory (hydra.job.chdir=true) and in a launcher's jobs, which inherit the environment.
    absolute_env_root(os.getcwd())
    sys.argv = flags_first(sys.argv)
    cli()


def entry() -> None:
    """The ``nas-exp`` console script. SMAC's seeded runs need PYTHONHASHSEED=0 from the interpreter's start
    (see run.py): without it, start the same command again in an interpreter that has it."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-c", "from nas_exp.cli import entry; entry()", *sys.argv[1:]])
    run_command_line()
