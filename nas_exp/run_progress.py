"""What a black-box run shows while it runs: the lines it starts with (run folder, new or resumed), the progress
bar (evaluations or time used of the budget, labelled by what the evaluator's cost is), and in train mode an
inner line per evaluation with its epochs and an ETA. Every line also goes to run.log (``nas_exp.run_log``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nas_exp.budgets.budget import Budget
from nas_exp.evaluation.base import EpochProgress, Evaluation, Evaluator
from nas_exp.run_log import log_only, say
from nas_exp.runner import EvaluateMany, EvaluationRequest
from nas_exp.trajectory import TrajectoryRow


def duration(seconds: float) -> str:
    """``seconds`` in the unit that reads best: 12.3 s, 4.5 min, 6.7 h."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def budget_used(budget: Budget, n_done: int, time_used: float, cost_kind: str | None) -> str:
    """How much of ``budget`` is spent: ``12/200`` evaluations, and/or ``3.1 h/24.0 h simulated`` of a time budget
    (``cost_kind``: what the evaluator's cost is, ``measured`` in train mode); the time used also without a time
    budget where evaluations cost any."""
    parts = [f"{n_done}/{budget.max_evaluations}" if budget.max_evaluations is not None
             else f"{n_done} evaluation{'' if n_done == 1 else 's'}"]
    kind = cost_kind or "simulated"
    if budget.max_simulated_seconds is not None:
        parts.append(f"{duration(time_used)}/{duration(budget.max_simulated_seconds)} {kind}")
    elif cost_kind is not None:
        parts.append(f"{duration(time_used)} {kind}")
    return "  ".join(parts)


def start_lines(run_dir: Path, recorded: Sequence[TrajectoryRow] | None, budget: Budget | None = None,
                cost_kind: str | None = None, extends: bool = False) -> list[str]:
    """The lines a run starts with: its folder, and ``new run`` or how far the resumed run had come
    (``recorded``: its trajectory's rows, None for a new run; ``budget``: the budget it resumes with)."""
    lines = [f"[bold]run folder[/]: {run_dir}"]
    if recorded is None or budget is None:
        lines.append("new run")
        return lines
    n = len(recorded)
    time_used = recorded[-1].simulated_time if recorded else 0.0
    if budget.max_evaluations is not None:
        done = f"{n} of {budget.max_evaluations} evaluations done"
        if budget.max_simulated_seconds is not None:
            done += f", {duration(time_used)} of {duration(budget.max_simulated_seconds)} {cost_kind or 'simulated'}"
    else:
        done = (f"{n} evaluation{'' if n == 1 else 's'} done, {duration(time_used)} of "
                f"{duration(budget.max_simulated_seconds or 0.0)} {cost_kind or 'simulated'} used")
    lines.append(f"resuming: {done}{' (budget extended)' if extends else ''}")
    return lines


def announce(console: Console, lines: Sequence[str]) -> None:
    for line in lines:
        say(console, line)


def run_progress(enabled: bool) -> Progress:
    """The run's progress display on stderr: a bar per task, what of the budget is used (``used``), a status
    (``info``) and the time elapsed."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[used]}"),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=Console(stderr=True),
                    disable=not enabled, transient=False)


def evaluation_line(row: TrajectoryRow, metric: str, value: str, best: str, used: str) -> str:
    """run.log's line for one evaluation."""
    epochs = "" if row.epochs is None else f" ({row.epochs} epochs)"
    repeat = " (repeat)" if row.repeat else ""
    return f"evaluation {row.n}{repeat}: {row.arch}{epochs} {metric} {value}; best {best}; used {used}"


def epoch_eta(seconds: Sequence[float], epochs_left: int) -> float:
    """Seconds until the training ends, at the mean pace of its epochs so far."""
    return sum(seconds) / len(seconds) * epochs_left if seconds else 0.0


class EpochWatch:
    """Train mode: an inner task under the run's bar for the evaluation in progress (epochs done, last loss,
    seconds per epoch, ETA), and one run.log line per epoch. ``listener`` goes to the evaluator's
    ``epoch_listener``; ``evaluate_many`` wraps a serial ``EvaluateMany`` to start the task per evaluation."""

    def __init__(self, progress: Progress, evaluator: Evaluator) -> None:
        self.progress, self.evaluator = progress, evaluator
        self.task: TaskID = progress.add_task("", total=1, visible=False, used="", info="")
        self.n = 0
        self.training = ""
        self.seconds: list[float] = []

    def start(self, request: EvaluationRequest) -> None:
        epochs = request.epochs or self.evaluator.max_epochs
        self.n, self.training, self.seconds = request.n, "", []
        self.progress.reset(self.task, total=epochs, description=f"  evaluation {request.n}", visible=True,
                            used=f"0/{epochs} epochs", info="")

    def listener(self, done: EpochProgress) -> None:
        if done.training != self.training or done.epoch <= 1:  # a new training (the report data's, say)
            self.training, self.seconds = done.training, []
        self.seconds.append(done.seconds)
        eta = epoch_eta(self.seconds, done.epochs - done.epoch)
        status = (f"{done.training}: loss {done.train_loss:.3f}  {duration(sum(self.seconds) / len(self.seconds))}"
                  f"/epoch  ETA {duration(eta)}")
        self.progress.update(self.task, total=done.epochs, completed=done.epoch,
                             used=f"{done.epoch}/{done.epochs} epochs", info=status)
        log_only(f"evaluation {self.n}, {done.training}: epoch {done.epoch}/{done.epochs}, loss "
                 f"{done.train_loss:.4f}, train_acc {done.train_acc:.2f}%, {duration(done.seconds)}; ETA "
                 f"{duration(eta)}")

    def evaluate_many(self, evaluate_many: EvaluateMany) -> EvaluateMany:
        def watched(evaluator: Evaluator, requests: Sequence[EvaluationRequest]) -> list[Evaluation]:
            results: list[Evaluation] = []
            try:
                for request in requests:
                    self.start(request)
                    results.extend(evaluate_many(evaluator, [request]))
            finally:
                self.progress.update(self.task, visible=False)
            return results

        return watched
