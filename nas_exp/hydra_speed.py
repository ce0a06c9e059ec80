"""Hydra's fixed cost per job of a sweep, cut where it repeats work (docs/scaling.md, "Fixed cost per job").

In a sweep Hydra composes every job's config twice: once when the sweeper validates the batch (so that a bad
override stops the sweep before any job ran) and once when the launcher starts the job; every composition parses
the same YAML files again. Both are pure functions of the config files and the overrides, so:

- ``SweepConfigMemo``: with the basic launcher (jobs in this process, launched right after the batch was
  validated) the config the sweeper composed for a job is handed, once, to the launcher instead of composing it
  again. Other launchers compose in their worker processes and are left alone. A job therefore runs the config
  that was validated before the sweep began, also when conf/ is edited while a long sweep runs.
- ``cached_yaml``: a config file's parsed YAML is kept per process, keyed by the file's path and the SHA-256 of
  its text (read every time), so an edited file is parsed again. The cache holds plain, immutable data: each
  caller gets its own OmegaConf object built from a deep copy of it; nothing mutable is shared between jobs.

``install()`` patches Hydra's config loader and file config source (hydra-core 1.3) in this process; it is
idempotent and checks that the patched methods are the ones it knows, else leaves Hydra as it is.
``NAS_EXP_SWEEP_CACHE=0`` turns this and the other per-process caches of a sweep off (benchmarks/bench_launchers.py
measures with and without in the same run).
"""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any

BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
_YAML: dict[tuple[str, str], Any] = {}  # (real path, sha256 of the text) -> parsed YAML (plain data, never mutated)
_installed = False


def _sweep_key(master_config: Any, sweep_overrides: list[str]) -> tuple[int, tuple[str, ...]] | None:
    """The memo key of a job's composition, or None where the job is composed in another process."""
    try:
        target = master_config.hydra.launcher._target_
    except Exception:  # no hydra node (a test's hand-made config): compose as Hydra does
        return None
    return (id(master_config), tuple(sweep_overrides)) if target == BASIC_LAUNCHER else None


class SweepConfigMemo:
    """Compositions made while the sweeper validates a batch (``Sweeper.validate_batch_is_legal``), queued per
    (master config, overrides) and handed, each to one caller, to the basic launcher's ``load_sweep_config`` of
    the same job; every other call composes as Hydra does. The validation only checks that a job composes and
    keeps nothing, so each composed config has exactly one user: the job it was composed for."""

    def __init__(self) -> None:
        self.pending: dict[tuple[int, tuple[str, ...]], list[Any]] = {}
        self.validating = False

    def wrap_validate(self, original):
        def validate_batch_is_legal(sweeper, batch):
            self.validating = True
            try:
                return original(sweeper, batch)
            finally:
                self.validating = False

        validate_batch_is_legal.__wrapped__ = original
        return validate_batch_is_legal

    def wrap_load(self, original):
        def load_sweep_config(loader, master_config, sweep_overrides):
            key = _sweep_key(master_config, sweep_overrides)
            if key is not None and not self.validating and self.pending.get(key):
                queued = self.pending[key]
                config = queued.pop(0)  # the launcher then sets the job's id and number in it
                if not queued:
                    del self.pending[key]
                return config
            config = original(loader, master_config, sweep_overrides)
            if key is not None and self.validating:
                self.pending.setdefault(key, []).append(config)
            return config

        load_sweep_config.__wrapped__ = original
        return load_sweep_config


MEMO = SweepConfigMemo()


def parsed_yaml(full_path: str, text: str) -> Any:
    """The parsed YAML of ``text`` (the file at ``full_path``), from the per-process cache where it was parsed
    before; a deep copy, so that the caller may build (and later mutate) its own config from it."""
    import yaml
    from omegaconf._utils import get_yaml_loader

    key = (full_path, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if key not in _YAML:
        _YAML[key] = yaml.load(text, Loader=get_yaml_loader())
    return copy.deepcopy(_YAML[key])


def cached_yaml(original):
    """Wrap ``FileConfigSource.load_config`` with the same result, the YAML parsed once per file content."""
    from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
    from omegaconf import OmegaConf

    def load_config(self, config_path: str):
        full_path = os.path.realpath(os.path.join(self.path, self._normalize_file_name(config_path)))
        if not os.path.exists(full_path):
            raise ConfigLoadError(f"Config not found : {full_path}")
        with open(full_path, encoding="utf-8") as handle:
            text = handle.read()
        obj = parsed_yaml(full_path, text)
        if obj is not None and not isinstance(obj, (list, dict, str)):
            raise OSError(f"Invalid loaded object type: {type(obj).__name__}")  # as OmegaConf.load
        return ConfigResult(config=OmegaConf.create() if obj is None else OmegaConf.create(obj),
                            path=f"{self.scheme()}://{self.path}", provider=self.provider,
                            header=ConfigSource._get_header_dict(text[:512]))

    load_config.__wrapped__ = original
    return load_config


def caches_enabled() -> bool:
    """False when ``NAS_EXP_SWEEP_CACHE=0``: every job then composes, parses and reads as if it ran alone."""
    return os.environ.get("NAS_EXP_SWEEP_CACHE", "1") != "0"


def install() -> None:
    """Patch this process's Hydra (once); a Hydra whose methods are not the known ones is left unpatched."""
    global _installed
    if _installed or not caches_enabled():
        return
    _installed = True
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra.core.plugins import Plugins
        from hydra.plugins.sweeper import Sweeper
        from hydra._internal.sources_registry import SourcesRegistry
    except ImportError:
        return
    if (getattr(ConfigLoaderImpl.load_sweep_config, "__qualname__", "") == "ConfigLoaderImpl.load_sweep_config"
            and getattr(Sweeper.validate_batch_is_legal, "__qualname__", "") == "Sweeper.validate_batch_is_legal"):
        Sweeper.validate_batch_is_legal = MEMO.wrap_validate(Sweeper.validate_batch_is_legal)
        ConfigLoaderImpl.load_sweep_config = MEMO.wrap_load(ConfigLoaderImpl.load_sweep_config)
    # Hydra's plugin scan executes its core_plugins modules again (a new FileConfigSource class): scan first
    # (it happens once per process anyway), then patch the class registered for file:// config sources.
    Plugins.instance()
    try:
        source = SourcesRegistry.instance().resolve("file")
    except Exception:  # noqa: BLE001 - no file source registered: nothing to speed up
        return
    if getattr(source.load_config, "__qualname__", "") == "FileConfigSource.load_config":
        source.load_config = cached_yaml(source.load_config)
