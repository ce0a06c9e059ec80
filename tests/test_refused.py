"""Combinations that cannot take effect are refused in one line before any work (composed in process, as run.py
composes them), every fix such a line offers is run and works, and every `python run.py ...` command in the README
and docs composes and passes the same checks. (The CLI's one-line, exit-2, no-folder path: tests/test_bad_input.py.)"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, open_dict

from nas_exp.app import run_experiment
from nas_exp.components import build_components, check_combination
from nas_exp.errors import UserError
from nas_exp.parallel import parallel_settings

REPO = Path(__file__).resolve().parents[1]
SMALL = ["progress=false", "budget.max_evaluations=3"]
TINY_TRAIN = ["dataset=digits", "evaluation.epochs=1", "evaluation.recipe.steps_per_epoch=1",
              "evaluation.report_test=false", "evaluation.checkpoint_dir=null", "evaluation.C=4", "evaluation.N=1"]
TINY_ONE_SHOT = ["evaluation=train", "dataset=digits", "optimizer.epochs=1", "optimizer.steps_per_epoch=1",
                 "optimizer.C=4", "optimizer.N=1", "optimizer.n_rank_cells=0", "optimizer.eval_batches=1",
                 "evaluation.checkpoint_dir=null"]


@contextmanager
def composed(overrides: list[str]) -> Iterator[DictConfig]:
    """The config run.py composes for ``overrides``, with Hydra's record of the choices set as in a run (the
    errors name ``optimizer=darts``, not the class); reset afterwards."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        with open_dict(cfg):
            del cfg["hydra"]
        yield cfg
    finally:
        HydraConfig.instance().cfg = None


def refusal(overrides: list[str], tmp_path: Path) -> str:
    """The one line ``overrides`` are refused with, checked as a run checks them before any work (the combination,
    the components, the parallel settings against the budget); nothing is evaluated and nothing is written."""
    run_dir = tmp_path / "run"
    with composed(overrides) as cfg, pytest.raises(UserError) as refused:
        check_combination(cfg)
        parts = build_components(cfg, run_dir)
        parallel_settings(cfg.parallel).check_budget(parts.budget.max_evaluations)
    message = str(refused.value)
    assert "\n" not in message and message
    assert not run_dir.exists() or not any(p for p in run_dir.rglob("*") if p.is_file() and "smac3" not in p.parts)
    return message


# overrides -> what the one line must say (its cause and its fix)
CASES = {
    "hpo-space-on-a-table": (["search_space=nb201_hpo", "optimizer=random"],
                             "search_space=nb201_hpo searches learning_rate, weight_decay beside the cell, which only "
                             "training uses: evaluation=tabular looks results up in a table of one training recipe "
                             "and would ignore them; use search_space=nb201 to search cells on the table, or "
                             "evaluation=train to train with them"),
    "hpo-space-on-hp12": (["search_space=nb201_hpo", "evaluation=tabular_hp12"], "evaluation=tabular_hp12 looks"),
    "unknown-top-level-key": (["+sed=3"], "unknown top-level key 'sed' (nothing reads it); did you mean seed? "
                                          "valid top-level keys: budget, dataset, evaluation, logger, objective, "
                                          "optimizer, parallel, progress, resume, search_space, seed"),
    "unknown-top-level-key-far-from-any": (["+colour=red"], "unknown top-level key 'colour' (nothing reads it); "
                                                            "valid top-level keys: budget,"),
    "progress-not-a-bool": (["progress=2"], "progress must be true or false, got 2; e.g. progress=false"),
    "one-shot-budget": (["optimizer=darts", "evaluation=train", "budget.max_evaluations=3"],
                        "one-shot optimizer darts does not read the budget (budget.max_evaluations=3): it trains its "
                        "supernet for optimizer.epochs=50 epochs; drop the budget setting and set optimizer.epochs=N"),
    "one-shot-budget-option": (["optimizer=gdas", "evaluation=train", "budget=evals_100"],
                               "one-shot optimizer gdas does not read the budget (budget.max_evaluations=100)"),
    "one-shot-objective": (["optimizer=darts", "evaluation=train", "objective=and_params"],
                           "one-shot optimizer darts does not read objective=and_params: it picks its cell from the "
                           "supernet"),
    "one-shot-space": (["optimizer=spos", "evaluation=train", "search_space=fcnet"],
                       "one-shot optimizer spos trains a supernet of a cell of operation choices, and "
                       "search_space=fcnet is not one; use search_space=darts, search_space=nb201"),
    "workers-beyond-the-budget": (["optimizer=random", "parallel.n_workers=5", "budget.max_evaluations=3"],
                                  "parallel.n_workers=5 is more than the budget's 3 evaluations, so 2 workers would "
                                  "never get a trial; use parallel.n_workers=3 or a larger budget.max_evaluations"),
    "workers-beyond-any-machine": (["optimizer=random", "parallel.n_workers=1000", "budget.max_evaluations=5000"],
                                   "parallel.n_workers=1000 is more than 256: each batch asks for n_workers trials "
                                   "before any result is told"),
    "simulated-workers-beyond-the-budget": (["optimizer=random", "parallel.simulate_workers=8",
                                             "budget.max_evaluations=3"],
                                            "parallel.simulate_workers=8 is more than the budget's 3 evaluations"),
    "initial-design-beyond-the-budget": (["optimizer.n_initial=100000", "budget.max_evaluations=3"],
                                         "optimizer.n_initial=100000 is more than the budget's 3 evaluations: the "
                                         "whole run would be its random initial design; use optimizer.n_initial=3 "
                                         "or less, or a larger budget.max_evaluations"),
    "initial-design-beyond-the-space": (["optimizer.n_initial=100000", "budget=simulated_1day"],
                                        "optimizer.n_initial=100000 is more than the 15625 configurations of "
                                        "search_space=nb201; use optimizer.n_initial=15625 or less"),
    "initial-design-negative": (["optimizer.n_initial=-1"], "optimizer.n_initial must be an int >= 1, got -1"),
    "initial-design-of-bananas": (["optimizer=bananas", "optimizer.n_initial=0"],
                                  "optimizer.n_initial must be an int >= 1, got 0"),
    "no-trees": (["optimizer.n_trees=0"], "optimizer.n_trees must be an int >= 1, got 0"),
    "no-trees-in-parego": (["optimizer=smac_parego", "objective=and_params", "optimizer.n_trees=0"],
                           "optimizer.n_trees must be an int >= 1, got 0"),
    "leaf-nodes": (["optimizer.rf_max_leaf_nodes=1"], "optimizer.rf_max_leaf_nodes (or null) must be an int >= 2"),
    "max-points": (["optimizer.rf_max_points=1"], "optimizer.rf_max_points (or null: every trial) must be an int >= 2"),
    "config-calls": (["optimizer.max_config_calls=0"], "optimizer.max_config_calls must be an int >= 1, got 0"),
    "train-objective-offers-what-train-reports": (
        ["evaluation=train", "optimizer=random", "objective=and_flops", *TINY_TRAIN],
        "objective=and_flops needs flops, which evaluation=train does not report for digits (it reports params); "
        "use objective=and_params"),
    "table-objective": (["optimizer=random", "objective=and_flops"],
                        "(it reports params, latency); use objective=and_latency or objective=and_params or another "
                        "evaluation.source"),
    "bohb-without-curves": (["optimizer=hyperband"], "or ++evaluation.budget_as_epochs=false"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_what_cannot_take_effect_is_refused_in_one_line(case, tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    overrides, message = CASES[case]
    assert message in refusal(["progress=false", *overrides], tmp_path)


OVERRIDE = re.compile(r"(?<![\w.+])(\+{0,2}[a-z_][\w./]*=[^\s,;()]+)")
PLACEHOLDER = re.compile(r"^(\.\.\.|[A-Z_]+\.?)$")  # hydra.run.dir=..., optimizer.epochs=N


def offered_fixes(message: str) -> list[str]:
    """The overrides a refusal offers as its fix (after its first "; "): ``use search_space=nb201 ..., or
    evaluation=train`` -> both; placeholders (``hydra.run.dir=...``, ``optimizer.epochs=N``) left out. A key's
    spelling offered as "did you mean KEY?" comes back as ``KEY=``."""
    tokens = OVERRIDE.findall(message.split("; ", 1)[-1])
    fixes = [token.removesuffix(".") for token in tokens if not PLACEHOLDER.match(token.split("=", 1)[1])]
    fixes += [f"{key}=" for key in re.findall(r"did you mean ([\w.]+)\?", message)]
    return fixes


def key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def with_fix(overrides: list[str], fix: str) -> list[str]:
    """``overrides`` with ``fix`` applied: it replaces the override of its key; ``KEY=`` (a spelling) renames the
    one override that has no valid key and keeps its value."""
    if fix.endswith("="):
        wrong = next(o for o in overrides if o.startswith("+"))
        return [f"{fix}{wrong.split('=', 1)[1]}" if o == wrong else o for o in overrides]
    return [o for o in overrides if key_of(o) != key_of(fix)] + [fix]


def sized(overrides: list[str]) -> list[str]:
    """A small run of ``overrides``: 3 evaluations, and in train mode tiny networks trained for one step on digits."""
    one_shot = any(o.startswith("optimizer=") and o.split("=")[1] in ONE_SHOT for o in overrides)
    small = ["progress=false", *([] if one_shot else ["budget.max_evaluations=3"])]
    return [*small, *overrides, *(TINY_TRAIN if "evaluation=train" in overrides else [])]


ONE_SHOT = ("darts", "darts2", "gdas", "rsws", "enas", "spos")
# a refused command -> the overrides the fixed run keeps (None: the same), how many fixes its line must offer
FIX_CASES = {
    "hpo-space-on-a-table": (["search_space=nb201_hpo", "optimizer=random"], None, 2),
    "misspelt-seed": (["optimizer=random", "+sed=3"], None, 1),
    "progress": (["optimizer=random", "progress=2"], None, 1),
    "workers": (["optimizer=random", "parallel.n_workers=5"], None, 1),
    "initial-design": (["optimizer=smac", "optimizer.n_initial=100000"], None, 1),
    "train-objective": (["evaluation=train", "optimizer=random", "objective=and_flops"], None, 1),
    "table-objective": (["optimizer=random", "objective=and_flops"], None, 2),
    "bohb-without-curves": (["optimizer=bohb"], None, 1),
    # "search several objectives with a black-box optimizer (optimizer=smac_parego, ...)": the same objective
    "one-shot-objective": (["optimizer=darts", *TINY_ONE_SHOT, "objective=and_params"], ["objective=and_params"], 1),
}


@pytest.mark.slow
@pytest.mark.usefixtures("torch_one_thread")  # train-mode fixes: tiny nets, faster on one thread
@pytest.mark.parametrize("case", list(FIX_CASES))
def test_every_fix_a_refusal_offers_runs(case, tmp_path, store_root, monkeypatch):
    """The suggestion is parsed out of the error line and run (in process, small budgets): it must complete."""
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    overrides, kept, n_fixes = FIX_CASES[case]
    message = refusal(sized(overrides), tmp_path)
    fixes = offered_fixes(message)
    assert len(fixes) == n_fixes, (message, fixes)
    for number, fix in enumerate(fixes):
        with composed(sized(with_fix(overrides if kept is None else kept, fix))) as cfg:
            result = run_experiment(cfg, tmp_path / f"fixed{number}")
        assert result["n_evaluations"] >= 1, (fix, result)


@pytest.mark.slow
@pytest.mark.usefixtures("torch_one_thread")
def test_dropping_what_one_shot_does_not_read_runs(tmp_path, store_root, monkeypatch):
    """The one-shot refusals say drop the budget (set optimizer.epochs) and the objective: that run completes."""
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    darts = ["progress=false", "optimizer=darts", *TINY_ONE_SHOT]
    assert "drop the budget setting and set optimizer.epochs=N" in refusal([*darts, "budget=evals_100"], tmp_path)
    assert "drop the objective setting" in refusal([*darts, "objective=and_params"], tmp_path)
    with composed(darts) as cfg:
        assert run_experiment(cfg, tmp_path / "fixed")["n_evaluations"] == 1


@pytest.mark.slow
def test_resume_offered_for_a_folder_with_results_continues_it(tmp_path, store_root, monkeypatch):
    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    run_dir = tmp_path / "run"
    with composed([*SMALL, "optimizer=random"]) as cfg:
        run_experiment(cfg, run_dir)
    with composed([*SMALL, "optimizer=random", "budget.max_evaluations=5"]) as cfg, \
            pytest.raises(UserError) as refused:
        run_experiment(cfg, run_dir)
    fixes = offered_fixes(str(refused.value))
    assert fixes == ["resume=true"], str(refused.value)
    with composed([*SMALL, "optimizer=random", "budget.max_evaluations=5", *fixes]) as cfg:
        assert run_experiment(cfg, run_dir)["n_evaluations"] == 5


def test_the_fix_parser_reads_the_projects_lines():
    assert offered_fixes("x=1 is bad; use a=2 or ++b.c=false (every), or hydra.run.dir=... or o.e=N") == \
        ["a=2", "++b.c=false"]
    assert offered_fixes("unknown top-level key 'sed'; did you mean seed? valid: seed") == ["seed="]
    assert with_fix(["seed=1", "+sed=3"], "seed=") == ["seed=1", "seed=3"]


# --- every `python run.py ...` in the README and docs composes and passes the checks ------------------------------

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIP = {  # text in a documented command -> why it is not composed
    "<": "a placeholder for the reader's own space or task",
    "...": "elided overrides",
}


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each `python run.py ...` in the docs, continuation lines joined, comments dropped."""
    found = []
    for path in DOCS:
        text = path.read_text().replace("\\\n", " ")
        for number, line in enumerate(text.splitlines(), 1):
            for match in re.finditer(r"python run\.py([^`\n]*)", line):
                found.append((f"{path.name}:{number}", match.group(1).split(" #")[0].strip()))
    return found


def first_of_each_sweep(args: list[str]) -> list[list[str]]:
    """The overrides of one job per value of each swept key (the other keys at their first value); ranges of many
    seeds as their first."""
    parsed = OverridesParser.create().parse_overrides(args)
    pinned = [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
              for o in parsed]
    jobs = [pinned]
    for index, override in enumerate(parsed):
        if override.is_sweep_override() and not override.key_or_group.startswith("seed"):
            for value in list(override.sweep_string_iterator())[1:]:
                jobs.append([*pinned[:index], f"{override.get_key_element()}={value}", *pinned[index + 1:]])
    return jobs


def test_the_docs_have_commands_to_check():
    commands = documented_commands()
    assert len(commands) > 40 and any("budget_as_epochs" in c for _, c in commands)


@pytest.mark.parametrize("where, command", documented_commands())
def test_every_documented_command_composes_and_is_not_refused(where, command):
    skipped = [why for text, why in SKIP.items() if text in command]
    if skipped:
        pytest.skip(f"{where}: {skipped[0]}")
    args = [a for a in shlex.split(command) if a not in ("-m", "--multirun")]
    if args in (["--version"], ["-V"]):
        pytest.skip(f"{where}: --version is answered before Hydra composes anything (tests/test_watch.py runs it)")
    for job in first_of_each_sweep(args):
        with composed(job) as cfg:
            check_combination(cfg)
