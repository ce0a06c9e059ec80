"""Chain spaces in the space language: a sequence of blocks whose widths, repeat counts and optional blocks are
hyperparameters, in the spirit of DeepArchitect's example (``conf/search_space/chain_cnn.yaml``)::

    _target_: nas_exp.search_spaces.declared_chain.DeclaredChainSpace
    name: chain_cnn
    hyperparameters:                     # the architecture's choices
      width_1: {choices: [8, 16, 32]}    # a categorical
      repeat_1: {range: [1, 2]}          # an int range (uniform)
      use_dropout: {choices: [yes, no]}
      dropout_rate: {choices: [0.25, 0.5], when: {use_dropout: yes}}   # active only then: a ConfigSpace condition
      repeat_2: "2 * repeat_1"           # dependent: computed from others (+ - * // of ints and names), no choice
    training:                            # training hyperparameters beside the architecture (as nb201_hpo's)
      learning_rate: {range: [0.001, 1.0], log: true, default: 0.1}
      weight_decay: {range: [1.0e-5, 1.0e-2], log: true, default: 5.0e-4}
    blocks:                              # in order; a block's settings name hyperparameters or are constants
      - {block: conv_bn_relu, width: width_1, repeat: repeat_1}      # Conv3x3 (no bias) + BN + ReLU, repeated
      - {block: max_pool}                                           # MaxPool 2x2
      - {block: dropout, rate: dropout_rate, when: {use_dropout: yes}}   # optional: present only then
      - {block: linear}                                             # global average pool + Linear(classes)

An architecture is the tuple of the architecture hyperparameters' values in declaration order (None where a
condition leaves one inactive; dependent values are not part of it, they follow); its key is ``name=value`` pairs
joined by ``,``. ``evaluation.C``/``evaluation.N`` do not apply (the widths and repeats are the hyperparameters).
Training hyperparameters must be ``TrainRecipe`` fields; only train mode uses them.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ConfigSpace import Categorical, Configuration, ConfigurationSpace, EqualsCondition, Float, Integer

from nas_exp.errors import UserError
from nas_exp.search_spaces.base import FINITE, NETWORK, SearchSpace
from nas_exp.search_spaces.declared import DeclarationError, _Checker, _plain, load_declaration

TOP_KEYS = ("_target_", "name", "hyperparameters", "training", "blocks", "seed", "source")
BLOCKS = {"conv_bn_relu": ("width", "repeat", "kernel", "when"), "max_pool": ("when",),
          "dropout": ("rate", "when"), "linear": ()}
TRAINING = ("learning_rate", "weight_decay", "momentum", "batch_size")


@dataclass(frozen=True)
class Block:
    kind: str
    settings: dict[str, Any]  # value or hyperparameter name
    when: tuple[str, Any] | None


def _expression(check: _Checker, key: str, text: str, known: set[str]) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise check.fail(key, f"not an expression: {text!r}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in known:
            raise check.fail(key, f"{text!r} names {node.id!r}, not a hyperparameter declared before it")
        if not isinstance(node, (ast.Expression, ast.BinOp, ast.Name, ast.Load, ast.Constant, ast.Add, ast.Sub,
                                 ast.Mult, ast.FloorDiv)) or (isinstance(node, ast.Constant)
                                                              and not isinstance(node.value, int)):
            raise check.fail(key, f"{text!r}: a dependent value is + - * // of ints and hyperparameter names")
    return tree


def _evaluate(tree: ast.AST, values: Mapping[str, Any]) -> int:
    if isinstance(tree, ast.Expression):
        return _evaluate(tree.body, values)
    if isinstance(tree, ast.Constant):
        return tree.value
    if isinstance(tree, ast.Name):
        return values[tree.id]
    left, right = _evaluate(tree.left, values), _evaluate(tree.right, values)  # type: ignore[attr-defined]
    op = type(tree.op)  # type: ignore[attr-defined]
    if op is ast.Add:
        return left + right
    if op is ast.Sub:
        return left - right
    if op is ast.Mult:
        return left * right
    return left // right


class DeclaredChainSpace(SearchSpace):
    """A chain space of a declaration: ConfigSpace (choices, conditions, training floats), networks of blocks."""

    reads_network_size = False  # widths and repeats are the hyperparameters: evaluation.C/N do not apply

    capabilities = frozenset({NETWORK})

    def __init__(self, name: str | None = None, hyperparameters: Any = None, training: Any = None,
                 blocks: Any = None, seed: int | None = None, source: str | None = None, **unknown: Any) -> None:
        from nas_exp.search_spaces.declared import _hydra_source

        source = source or _hydra_source(str(name))
        check = _Checker(source)
        if unknown:
            raise check.fail(next(iter(unknown)), f"unknown key; valid keys: {', '.join(TOP_KEYS)}")
        self.name, self.source = check.space_name(name), source
        hps = check.mapping(_plain(hyperparameters) or {}, "hyperparameters", list((_plain(hyperparameters) or {})))
        self.choices: dict[str, tuple] = {}
        self.dependent: dict[str, ast.Expression] = {}
        self.conditions: dict[str, tuple[str, Any]] = {}
        space: list[Any] = []
        pending: dict[str, Any] = {}
        for hp_name, spec in hps.items():
            key = f"hyperparameters.{hp_name}"
            if isinstance(spec, str):
                self.dependent[hp_name] = _expression(check, key, spec, set(self.choices) | set(self.dependent))
                continue
            spec = check.mapping(spec, key, ("choices", "range", "when"))
            if "choices" in spec:
                values = spec["choices"]
                if not isinstance(values, list) or not values:
                    raise check.fail(f"{key}.choices", f"must be a non-empty list, got {values!r}")
                self.choices[hp_name] = tuple(values)
            elif "range" in spec:
                low_high = spec["range"]
                if (not isinstance(low_high, list) or len(low_high) != 2 or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in low_high) or low_high[0] > low_high[1]):
                    raise check.fail(f"{key}.range", f"must be [low, high] ints, low <= high, got {low_high!r}")
                self.choices[hp_name] = tuple(range(low_high[0], low_high[1] + 1))
            else:
                raise check.fail(key, "give choices: [...], range: [low, high], or a dependent expression string")
            space.append(Categorical(hp_name, self.choices[hp_name]) if "choices" in spec
                         else Integer(hp_name, tuple(spec["range"])))
            if "when" in spec:
                pending[hp_name] = spec["when"]
        conditioned = set(pending)
        for hp_name, when in pending.items():  # after all choices: a condition may name a later one
            self.conditions[hp_name] = self._when(check, f"hyperparameters.{hp_name}.when", when, conditioned)
        self.training: dict[str, tuple[float, float, float, bool]] = {}
        for hp_name, spec in (check.mapping(_plain(training) or {}, "training", TRAINING)).items():
            key = f"training.{hp_name}"
            spec = check.mapping(spec, key, ("range", "log", "default"))
            rng = spec.get("range")
            if not isinstance(rng, list) or len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng) \
                    or not 0 < rng[0] < rng[1]:
                raise check.fail(f"{key}.range", f"must be [low, high] with 0 < low < high, got {rng!r}")
            default = spec.get("default", math.sqrt(rng[0] * rng[1]))
            self.training[hp_name] = (float(rng[0]), float(rng[1]), float(default), bool(spec.get("log", False)))
            space.append(Float(hp_name, (float(rng[0]), float(rng[1])), default=float(default),
                               log=bool(spec.get("log", False))))
        self.blocks = self._blocks(check, _plain(blocks))
        self.arch_names = tuple(self.choices)
        self.training_hyperparameters = tuple(self.training)
        self.configspace = ConfigurationSpace(name=name, seed=seed)
        self.configspace.add(space)
        by_name = {hp.name: hp for hp in space}
        self.configspace.add([EqualsCondition(by_name[child], by_name[parent], value)
                              for child, (parent, value) in self.conditions.items()])
        if not self.training:
            self.capabilities = frozenset({NETWORK, FINITE})

    def _when(self, check: _Checker, key: str, when: Any, conditioned: set[str]) -> tuple[str, Any]:
        if not isinstance(when, Mapping) or len(when) != 1:
            raise check.fail(key, f"a condition is {{hyperparameter: value}}, got {when!r}")
        parent, value = next(iter(when.items()))
        if parent not in self.choices or parent in conditioned:
            raise check.fail(key, f"{parent!r} is not an unconditional choice (hyperparameters)")
        if value not in self.choices[parent]:
            raise check.fail(key, f"{value!r} is not a value of {parent} ({', '.join(map(str, self.choices[parent]))})")
        return parent, value

    def _blocks(self, check: _Checker, blocks: Any) -> tuple[Block, ...]:
        if not isinstance(blocks, list) or not blocks:
            raise check.fail("blocks", f"must be a non-empty list of blocks, got {blocks!r}")
        out = []
        known = set(self.choices) | set(self.dependent)
        for i, item in enumerate(blocks):
            key = f"blocks[{i}]"
            if not isinstance(item, Mapping) or item.get("block") not in BLOCKS:
                raise check.fail(f"{key}.block", f"unknown block {_plain(item).get('block') if isinstance(item, Mapping) else item!r}; "
                                                 f"valid: {', '.join(BLOCKS)}")
            kind = item["block"]
            settings = check.mapping({k: v for k, v in item.items() if k != "block"}, key, BLOCKS[kind])
            when = (self._when(check, f"{key}.when", settings.pop("when"), set(self.conditions))
                    if "when" in settings else None)
            for setting, value in settings.items():
                if isinstance(value, str) and value not in known:
                    raise check.fail(f"{key}.{setting}", f"{value!r} is not a declared hyperparameter")
            out.append(Block(kind, settings, when))
        if out[-1].kind != "linear" or any(b.kind == "linear" for b in out[:-1]):
            raise check.fail("blocks", "the last block, and only it, is the head: {block: linear}")
        return tuple(out)

    @classmethod
    def from_yaml(cls, path: Any, seed: int | None = None) -> DeclaredChainSpace:
        values = load_declaration(path)
        values.pop("_target_", None)
        values.pop("source", None)
        if "name" not in values:
            raise DeclarationError(f"{path}: name: missing; a declaration names its space (= the file's name)")
        return cls(**values, seed=seed, source=str(path))

    def __len__(self) -> int:
        total = 1
        for name, values in self.choices.items():
            if name not in self.conditions:
                children = [c for c, (p, _) in self.conditions.items() if p == name]
                total *= sum(math.prod(len(self.choices[c]) for c in children
                                       if self.conditions[c][1] == v) for v in values)
        return total

    # -- converters ---------------------------------------------------------------------------------------------
    def _check_arch(self, arch: Any) -> tuple:
        arch = tuple(arch)
        if len(arch) != len(self.arch_names):
            raise UserError(f"a {self.name} architecture has {len(self.arch_names)} values "
                            f"({', '.join(self.arch_names)}), got {arch!r}")
        values = dict(zip(self.arch_names, arch))
        for name, value in values.items():
            active = name not in self.conditions or values[self.conditions[name][0]] == self.conditions[name][1]
            if (value is None) == active or (active and value not in self.choices[name]):
                raise UserError(f"{self.name}: {name}={value!r} is not valid here (choices "
                                f"{', '.join(map(str, self.choices[name]))}; None exactly when inactive)")
        return tuple(_native(v) for v in arch)

    def values(self, arch: Any) -> dict[str, Any]:
        """Every hyperparameter of ``arch``, dependent ones computed."""
        values = dict(zip(self.arch_names, self._check_arch(arch)))
        for name, tree in self.dependent.items():
            values[name] = _evaluate(tree, values)
        return values

    def to_config(self, arch: Any, hyperparameters: Mapping[str, float] | None = None) -> Configuration:
        values = {k: v for k, v in zip(self.arch_names, self._check_arch(arch)) if v is not None}
        unknown = sorted(set(hyperparameters or {}) - set(self.training))
        if unknown:
            raise UserError(f"unknown hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(self.training)}")
        values.update({k: default for k, (_, _, default, _) in self.training.items()})
        values.update({k: float(v) for k, v in (hyperparameters or {}).items()})
        return Configuration(self.configspace, values=values)

    def from_config(self, config: Configuration | Mapping[str, Any]) -> tuple:
        values = dict(config)
        return self._check_arch(values.get(name) for name in self.arch_names)

    def hyperparameters(self, config: Configuration | Mapping[str, Any]) -> dict[str, float] | None:
        if not self.training:
            return None
        values = dict(config)
        missing = [name for name in self.training if name not in values]
        if missing:
            raise UserError(f"configuration lacks hyperparameter(s) {', '.join(missing)}; it has {sorted(values)}")
        return {name: float(values[name]) for name in self.training}

    def key(self, arch: Any) -> str:
        return ",".join(f"{k}={v}" for k, v in zip(self.arch_names, self._check_arch(arch)))

    def from_key(self, key: str) -> tuple:
        pairs = dict(item.split("=", 1) for item in key.split(",") if "=" in item) if isinstance(key, str) else {}
        if list(pairs) != list(self.arch_names):
            raise UserError(f"malformed {self.name} key {key!r}: expected {', '.join(f'{n}=...' for n in self.arch_names)}")
        arch = []
        for name, text in pairs.items():
            match = [v for v in self.choices[name] if str(v) == text]
            arch.append(match[0] if match else None)
        return self._check_arch(arch)

    def build_network(self, arch: Any, seed: int, C: int, N: int, num_classes: int, in_channels: int = 3) -> Any:
        import torch

        from nas_exp.models.chain_network import ChainNetwork

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ChainNetwork(self.blocks, self.values(arch), num_classes=num_classes, in_channels=in_channels)


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
