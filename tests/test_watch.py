"""Issue 14 item 6, runs you can watch: the start lines (run folder, new or resumed), run.log holding the run's
messages without doubling the console's, the budget used on the progress bar (time budgets too), per-epoch
progress with an ETA in train mode, measured vs simulated time by what the evaluator declares, and the
``nas-exp`` command line (``--version``, the console script's entry)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from rich.console import Console

from conftest import REPO, cli_env, run_cli
from nas_exp.app import run_experiment
from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import cost_kind
from nas_exp.run_progress import budget_used, duration, start_lines
from nas_exp.trajectory import TrajectoryRow

RANDOM = ["optimizer=random"]
TRAIN = ["evaluation=train", "dataset=digits", "evaluation.C=4", "evaluation.N=1", "evaluation.epochs=2",
         "evaluation.device=cpu", "evaluation.recipe.epochs=4", "evaluation.recipe.batch_size=128",
         "evaluation.checkpoint_dir=null"]


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


def log_messages(run_log: Path) -> list[str]:
    """The messages of run.log's records (after Hydra's ``[time][logger][LEVEL] - `` prefix)."""
    return [line.split("] - ", 1)[1] for line in run_log.read_text().splitlines() if "] - " in line]


# -- run.log, the start lines, resuming ----------------------------------------------------------------------------
@pytest.mark.slow
def test_run_log_holds_every_printed_line_once_and_a_resume_says_how_far_it_came(tmp_path, store_root):
    run_dir = tmp_path / "run"
    first = run_cli([*RANDOM, "budget.max_evaluations=4", f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert first.returncode == 0, first.stderr
    printed = first.stdout.splitlines()
    assert printed[:2] == [f"run folder: {run_dir}", "new run"]  # before anything else
    assert len(printed) == len(set(printed)) + 1  # only the run folder is said twice (start and end)
    assert not any("[nas_exp.run]" in line for line in printed)  # the log's records are not echoed on the console
    messages = log_messages(run_dir / "run.log")
    assert printed == [m for m in messages if not m.startswith("evaluation ")]  # the console's lines, in order
    per_evaluation = [m for m in messages if m.startswith("evaluation ")]
    assert [m.split(":", 1)[0] for m in per_evaluation] == [f"evaluation {n}" for n in range(1, 5)]
    assert "used 4/4" in per_evaluation[-1] and "simulated" in per_evaluation[-1]
    assert any(line.startswith("4 evaluations") and "simulated" in line for line in messages)

    again = run_cli([*RANDOM, "budget.max_evaluations=6", f"hydra.run.dir={run_dir}", "resume=true"], tmp_path,
                    store_root)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:2] == [f"run folder: {run_dir}",
                                             "resuming: 4 of 6 evaluations done (budget extended)"]
    messages = log_messages(run_dir / "run.log")  # appended to: both attempts
    assert messages.count("new run") == 1 and "resuming: 4 of 6 evaluations done (budget extended)" in messages
    assert [m.split(":", 1)[0] for m in messages if m.startswith("evaluation ")] == [
        f"evaluation {n}" for n in range(1, 7)]  # the replayed evaluations are not logged twice


def test_an_error_line_lands_in_run_log(tmp_path, store_root):
    """A run stopped by a bad setting: its one `error:` line on stderr, and in run.log (kept here because the
    folder, given with hydra.run.dir, holds a file of the user's)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "mine.txt").write_text("the user's file keeps the folder")
    done = run_cli([*RANDOM, "budget.max_evaluations=0", f"hydra.run.dir={run_dir}"], tmp_path, store_root)
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "budget.max_evaluations" in error[0]
    assert log_messages(run_dir / "run.log")[-1] == error[0]


def test_start_lines_of_a_run_resumed_under_a_time_budget():
    rows = [TrajectoryRow(n=n, arch=f"cell{n}", epochs=None, value=80.0, test=None, cost=3600.0,
                          simulated_time=3600.0 * n, wall_time=0.1, incumbent_value=80.0, incumbent_test=None,
                          incumbent_arch="cell1", repeat=False) for n in (1, 2, 3)]
    both = Budget(max_evaluations=10, max_simulated_seconds=86400)
    assert start_lines(Path("f"), rows, Budget(max_simulated_seconds=86400), "simulated") == [
        "[bold]run folder[/]: f", "resuming: 3 evaluations done, 3.0 h of 24.0 h simulated used"]
    assert start_lines(Path("f"), rows[:1], both, "measured", extends=True)[1] == (
        "resuming: 1 of 10 evaluations done, 1.0 h of 24.0 h measured (budget extended)")
    assert start_lines(Path("f"), None, both, "simulated")[1] == "new run"


# -- the progress bar ------------------------------------------------------------------------------------------------
def test_budget_used_reads_evaluations_or_time_of_the_budget():
    assert budget_used(Budget(max_evaluations=200), 12, 7200.0, "simulated") == "12/200  2.0 h simulated"
    assert budget_used(Budget(max_simulated_seconds=86400), 3, 9000.0, "simulated") == (
        "3 evaluations  2.5 h/24.0 h simulated")
    assert budget_used(Budget(max_evaluations=5, max_simulated_seconds=600), 1, 30.0, "measured") == (
        "1/5  30.0 s/10.0 min measured")
    assert budget_used(Budget(max_evaluations=5), 2, 0.0, None) == "2/5"  # a table without training times
    assert [duration(s) for s in (5.0, 90.0, 5400.0)] == ["5.0 s", "1.5 min", "1.5 h"]


def test_a_time_budget_bar_shows_the_time_used_not_a_fraction(tmp_path, store_root, monkeypatch, capsys):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    cfg = compose_run([*RANDOM, "budget=simulated_1day", "progress=true"])
    summary = run_experiment(cfg, tmp_path / "run", console=Console(file=io.StringIO()))
    bar = capsys.readouterr().err
    used = duration(summary["simulated_time"])
    assert f"{summary['n_evaluations']} evaluations  {used}/24.0 h simulated" in bar, bar
    assert "0/1" not in bar and summary["cost_kind"] == "simulated"


# -- train mode: epochs, ETA, measured time --------------------------------------------------------------------------
@pytest.mark.usefixtures("torch_one_thread")
def test_train_mode_reports_each_epoch_with_an_eta_and_says_measured(tmp_path, monkeypatch, capsys, caplog):
    pytest.importorskip("torch")
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path / "store"))
    console = io.StringIO()
    with caplog.at_level(logging.INFO, logger="nas_exp.run"):
        summary = run_experiment(compose_run([*RANDOM, *TRAIN, "budget.max_evaluations=2", "progress=true"]),
                                 tmp_path / "run", console=Console(file=console))
    epochs = [r.getMessage() for r in caplog.records if ": epoch " in r.getMessage()]
    assert [m.split(",")[0] + m.split(",")[1].split(":")[1] for m in epochs] == [
        f"evaluation {n} epoch {e}/2" for n in (1, 2) for e in (1, 2)]
    assert all("ETA " in m and "loss " in m for m in epochs) and epochs[-1].endswith("ETA 0.0 s")
    assert summary["cost_kind"] == "measured"
    printed = console.getvalue()
    assert "training time" in printed and "measured" in printed and "simulated" not in printed
    bar = capsys.readouterr().err
    assert "2/2" in bar and "measured" in bar and "simulated" not in bar


def test_the_cost_label_is_what_the_evaluator_declares():
    class Declared:
        def __init__(self, trains: bool, records_cost: bool) -> None:
            self.trains, self.records_cost = trains, records_cost

    assert [cost_kind(Declared(t, r)) for t, r in ((True, True), (False, True), (False, False))] == [
        "measured", "simulated", None]


# -- the command line ------------------------------------------------------------------------------------------------
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


ENTRY = "from nas_exp.cli import entry; entry()"


@pytest.mark.parametrize("command", [[str(REPO / "run.py")], ["-c", ENTRY]], ids=["run.py", "nas-exp"])
def test_version_is_printed_before_hydra_parses_anything(tmp_path, command):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONHASHSEED", None)  # both fix it themselves (re-exec) before they print
    done = subprocess.run([sys.executable, *command, "optimizer=random", "--version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"nas-exp {pyproject()['project']['version']}\n"
    assert not (tmp_path / "outputs").exists()  # no run started


def test_the_console_script_is_the_entry_function_and_runs_like_run_py(tmp_path, store_root):
    target = pyproject()["project"]["scripts"]["nas-exp"]
    module, function = target.split(":")
    assert getattr(import_module(module), function).__name__ == "entry"
    run_dir = tmp_path / "run"
    env = {**cli_env(store_root), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", f"from {module} import {function}; {function}()",
                           *RANDOM, "budget.max_evaluations=3", f"hydra.run.dir={run_dir}", "progress=false"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [f"run folder: {run_dir}", "new run"]
    assert (run_dir / "result.json").is_file() and "new run" in log_messages(run_dir / "run.log")
