"""The performance record of nas-exp's optimizers: overhead per proposal and final regret, in one table.

Run: `PYTHONHASHSEED=0 python benchmarks/bench_optimizers.py [--spaces nb201 fcnet] [--trials 50 200 500 1000]
      [--seeds 10] [--cap 60] [--only smac random ...] [--markdown FILE]`

For each space (NB201 on cifar10-valid; FCNet on protein_structure, both tables that ship) and each optimizer,
``--seeds`` seeded runs of up to max(--trials) evaluations. Overhead is the optimizer's own time (ask + tell; the
table lookup excluded), the mean over the 40 proposals before each N (SMAC refits its model every 8th: 5 fits). Regret is |optimum - best search value
found| after N evaluations, mean +- standard error over the seeds. Every run stops once its optimizer time
exceeds ``--cap`` seconds, so every row finishes in bounded time; a cell past the trials a run reached is "-",
and the note under the table says where runs were cut.

Baselines in the same run: ``random`` (nas-exp's random search: the floor), ``smac_raw`` (SMAC 2.4's HPO facade
used the documented way: facade defaults, ask/tell, run history saved on every tell), and ``optuna_tpe``
(Optuna's TPESampler with its defaults, ask/tell) when optuna is installed (`pip install optuna`, the `bench`
extra). The multi-fidelity optimizers (hyperband, bohb) are timed on full lookups (their budgets ignored), as
the others.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.utils import instantiate
from omegaconf import OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nas_exp.evaluation.tabular import TabularEvaluator
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.runner import evaluation_rng

REPO = Path(__file__).resolve().parents[1]
WINDOW = 40  # proposals averaged before each N: a multiple of SMAC's retrain_after (8), so every window holds 5 fits
NAS_EXP = ("random", "rea", "local_search", "reinforce", "smac", "smac_bb", "hyperband", "bohb", "tpe", "nsga2", "dehb")
SPACES = {"nb201": ("nb201", "cifar10-valid"), "fcnet": ("fcnet", "protein_structure")}


class SMACRaw(Optimizer):
    """SMAC's HyperparameterOptimizationFacade exactly as its documentation shows ask/tell: defaults everywhere."""

    name = "smac_raw"

    def __init__(self, configspace, seed: int, output_dir: Path | None = None, max_trials: int | None = None,
                 **_: Any) -> None:
        super().__init__(configspace, seed, output_dir, max_trials)
        from smac import HyperparameterOptimizationFacade, Scenario

        scenario = Scenario(configspace, deterministic=True, n_trials=max_trials or 100_000, seed=seed,
                            output_directory=Path(output_dir) / "smac_raw")
        self.smac = HyperparameterOptimizationFacade(scenario, target_function=lambda config, seed=0: 0.0,
                                                     overwrite=True, logging_level=40)

    def ask(self) -> Trial:
        info = self.smac.ask()
        return Trial(config=info.config, handle=info)

    def tell(self, trial: Trial, loss, cost: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self.smac.tell(trial.handle, TrialValue(cost=loss, time=cost))


class OptunaTPE(Optimizer):
    """Optuna's TPESampler (defaults) over the same ConfigSpace: categorical/ordinal hyperparameters become
    categorical distributions, numeric ones float/int distributions (log where ConfigSpace says log)."""

    name = "optuna_tpe"

    def __init__(self, configspace, seed: int, output_dir: Path | None = None, max_trials: int | None = None,
                 **_: Any) -> None:
        super().__init__(configspace, seed, output_dir, max_trials)
        import optuna
        from ConfigSpace import Configuration

        from nas_exp.optimizers.config_moves import finite_choices

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._configuration = Configuration
        self.study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        self.distributions: dict[str, Any] = {}
        for hp in configspace.values():
            choices = finite_choices(hp)
            if choices is not None:
                self.distributions[hp.name] = optuna.distributions.CategoricalDistribution(list(choices))
            elif type(hp).__name__.endswith("IntegerHyperparameter"):
                self.distributions[hp.name] = optuna.distributions.IntDistribution(hp.lower, hp.upper, log=hp.log)
            else:
                self.distributions[hp.name] = optuna.distributions.FloatDistribution(hp.lower, hp.upper, log=hp.log)

    def ask(self) -> Trial:
        trial = self.study.ask(self.distributions)
        return Trial(config=self._configuration(self.configspace, values=dict(trial.params)), handle=trial)

    def tell(self, trial: Trial, loss, cost: float) -> None:
        self.study.tell(trial.handle, loss)


@dataclass
class RunRecord:
    overhead: list[float] = field(default_factory=list)  # ask + tell seconds of each proposal
    regret: list[float] = field(default_factory=list)  # after each evaluation
    build: float = 0.0  # seconds to construct the optimizer


def make_optimizer(name: str) -> Callable[..., Optimizer]:
    """``name`` may carry settings in brackets, e.g. ``smac_bb[gp_restarts=2]``: conf/optimizer/smac_bb.yaml
    with that value changed (values as YAML: ``null``, ``2``, ``0.5``; several separated by commas)."""
    if name.endswith("]") and "[" in name:
        base, settings = name[:-1].split("[", 1)
        config = OmegaConf.load(REPO / "conf" / "optimizer" / f"{base}.yaml")
        for setting in settings.split(","):
            key, value = setting.split("=", 1)
            if key.strip() not in config:
                raise SystemExit(f"{base} has no setting {key.strip()!r}: {', '.join(map(str, config))}")
            config[key.strip()] = yaml.safe_load(value)
        return instantiate(config)
    if name == "smac_raw":
        return SMACRaw
    if name == "optuna_tpe":
        return OptunaTPE
    if name == "smac_bb_every_fit":  # smac_bb with SMAC's own schedule: the GP's hyperparameters fit on every ask
        config = OmegaConf.load(REPO / "conf" / "optimizer" / "smac_bb.yaml")
        config.gp_growth = 0
        return instantiate(config)
    if name == "smac_bb_process_blas":  # smac_bb with BLAS on the process's threads (blas_threads: null)
        config = OmegaConf.load(REPO / "conf" / "optimizer" / "smac_bb.yaml")
        config.blas_threads = None
        return instantiate(config)
    return instantiate(OmegaConf.load(REPO / "conf" / "optimizer" / f"{name}.yaml"))


def one_run(name: str, space: Any, evaluator: TabularEvaluator, seed: int, n_max: int, cap: float) -> RunRecord:
    metric = evaluator.search_metric
    optimum = evaluator.optimum().value
    record = RunRecord()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        optimizer = make_optimizer(name)(space.configspace, seed=seed, output_dir=Path(folder), max_trials=n_max)
        record.build = time.perf_counter() - start
        best: float | None = None
        for n in range(1, n_max + 1):
            start = time.perf_counter()
            trial = optimizer.ask()
            asked = time.perf_counter() - start
            evaluation = evaluator.evaluate(space.from_config(trial.config), evaluation_rng(seed, n))
            loss = metric.loss(evaluation.value)
            start = time.perf_counter()
            optimizer.tell(trial, loss=loss, cost=evaluation.cost)
            record.overhead.append(asked + time.perf_counter() - start)
            if best is None or metric.better(evaluation.value, best):
                best = evaluation.value
            record.regret.append(abs(optimum - best))
            if sum(record.overhead) > cap:
                break
        optimizer.close()
    return record


def mean_se(values: list[float]) -> str:
    if not values:
        return "-"
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3g} ± {se:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    parser.add_argument("--trials", type=int, nargs="+", default=[50, 200, 500, 1000])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cap", type=float, default=60.0, help="optimizer seconds after which a run stops")
    parser.add_argument("--raw-seeds", type=int, default=None, help="seeds of smac_raw (default: --seeds)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="optimizers to run (default: all available; smac_bb_every_fit, smac_bb_process_blas "
                             "and NAME[SETTING=VALUE,...] variants only when named)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables as Markdown here")
    args = parser.parse_args()
    names = list(NAS_EXP) + ["smac_raw"]
    try:
        import optuna  # noqa: F401

        names.append("optuna_tpe")
    except ImportError:
        Console(stderr=True).print("optuna not installed: optuna_tpe skipped (pip install optuna)")
    if args.only:
        extra = ["smac_bb_every_fit", "smac_bb_process_blas"] + [n for n in args.only if n.endswith("]")]
        names = [n for n in names + extra if n in args.only]
    console = Console(width=240)
    markdown: list[str] = []
    n_max = max(args.trials)
    for space_name in args.spaces:
        search_space, dataset = SPACES[space_name]
        space = instantiate(OmegaConf.load(REPO / "conf" / "search_space" / f"{search_space}.yaml"))
        evaluator = TabularEvaluator(space, dataset, dataset, budget_as_epochs=False)
        table = Table(title=f"{space_name} ({dataset}): optimizer ms per proposal around N, x random; regret after "
                            f"N (mean ± s.e., {args.seeds} seeds); cap {args.cap:.0f} s per run")
        table.add_column("optimizer", no_wrap=True)
        for n in args.trials:
            table.add_column(f"ms @{n}", justify="right")
            table.add_column(f"x rnd @{n}", justify="right")
        table.add_column(f"regret @{min(200, n_max)}", justify="right")
        table.add_column(f"regret @{n_max}", justify="right")
        table.add_column("build s", justify="right")
        table.add_column("total s/run", justify="right")
        records: dict[str, list[RunRecord]] = {}
        cut: list[str] = []
        for name in names:
            one_run(name, space, evaluator, 0, 3, args.cap)  # warm-up: imports and first-use caches not timed
            n_seeds = args.raw_seeds if name == "smac_raw" and args.raw_seeds is not None else args.seeds
            runs = [one_run(name, space, evaluator, seed, n_max, args.cap) for seed in range(n_seeds)]
            records[name] = runs
            reached = min(len(r.overhead) for r in runs)
            if reached < n_max:
                cut.append(f"{name} stopped at {reached} evaluations (cap {args.cap:.0f} s)")
            console.print(f"{space_name} {escape(name)}: {statistics.mean(sum(r.overhead) for r in runs):.2f} s per run, "
                          f"{reached} evaluations")

        def window(runs: list[RunRecord], n: int) -> float | None:
            if any(len(r.overhead) < n for r in runs):
                return None
            return float(np.mean([np.mean(r.overhead[max(0, n - WINDOW):n]) for r in runs]))

        rows = []
        for name, runs in records.items():
            cells = []
            for n in args.trials:
                ours, base = window(runs, n), window(records.get("random", runs), n)
                cells += ["-", "-"] if ours is None else [f"{ours * 1e3:.2f}",
                                                          "-" if not base else f"{ours / base:.0f}"]
            regret_at = [[r.regret[n - 1] for r in runs if len(r.regret) >= n] for n in (min(200, n_max), n_max)]
            cells += [mean_se(v) if len(v) == len(runs) else "-" for v in regret_at]
            cells += [f"{statistics.mean(r.build for r in runs):.2f}",
                      f"{statistics.mean(sum(r.overhead) for r in runs):.2f}"]
            label = name if len(runs) == args.seeds else f"{name} ({len(runs)} seeds)"
            table.add_row(escape(label), *cells)
            rows.append([label, *cells])
        console.print(table)
        for line in cut:
            console.print(f"note: {escape(line)}")
        header = ["optimizer"] + [c.header for c in table.columns[1:]]
        markdown += [f"### {table.title}", "", "| " + " | ".join(map(str, header)) + " |",
                     "|" + "---|" * len(header)]
        markdown += ["| " + " | ".join(row) + " |" for row in rows]
        markdown += [""] + [f"note: {line}" for line in cut] + [""]
    if args.markdown is not None:
        args.markdown.write_text("\n".join(markdown) + "\n")


if __name__ == "__main__":
    main()
