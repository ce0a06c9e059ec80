"""What every search space offers the rest of nas-exp, whatever its architectures are.

A space exposes its architectures as a ConfigSpace (so any HPO optimizer can search it) and the two lossless
converters of the core idea: configuration -> architecture (``from_config``) and back (``to_config``). Each
architecture has a stable string ``key`` (caching, trajectories, resume). What else a space can do is declared
in ``capabilities``, never sniffed:

* ``TABULAR``: its architectures are rows of a tabular benchmark (``tabular_benchmark``, ``table_index``);
* ``NETWORK``: it builds a PyTorch network for an architecture (``build_network``; train mode);
* ``CELL_DAG``: it is a cell of edges with a choice of ops, the shape one-shot supernets are built from
  (``supernet_layout``: the mixed edges and discrete decisions ``nas_exp/one_shot`` builds a supernet from);
* ``FINITE``: it can list its canonical architectures (``canonical_archs``);
* ``PATHS``: it encodes a configuration by the input-to-output paths of its cell (``path_encoder``), the encoding
  of BANANAS (White et al. 2021); predictor-based optimizers use it with ``optimizer.encoding=auto|path``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from nas_exp.errors import UserError
from nas_exp.feature_encoders import FeatureEncoder
from nas_exp.search_spaces.supernet_layout import SupernetLayout

TABULAR = "tabular"
NETWORK = "network"
CELL_DAG = "cell_dag"
FINITE = "finite"
PATHS = "paths"


class CapabilityError(UserError):
    """A space asked for something its capabilities do not include (reported as one line)."""


class SearchSpace(ABC):
    """An architecture space. Architectures are hashable values of the space's own type."""

    name: str = "space"
    capabilities: frozenset[str] = frozenset()
    training_hyperparameters: tuple[str, ...] = ()  # the keys ``hyperparameters`` returns (only training uses them)
    reads_network_size: bool = True  # build_network's C (width) and N (depth) shape the network; False where
    # the architecture itself fixes them (chain spaces: widths and repeats are hyperparameters)
    configspace: ConfigurationSpace

    # -- the two converters ------------------------------------------------------------------------------------
    @abstractmethod
    def from_config(self, config: Configuration | Mapping[str, Any]) -> Hashable:
        """The (canonical) architecture of a configuration."""

    @abstractmethod
    def to_config(self, arch: Hashable) -> Configuration:
        """A configuration of ``arch``: ``from_config(to_config(a)) == a`` for every canonical architecture."""

    @abstractmethod
    def key(self, arch: Hashable) -> str:
        """A stable string for ``arch`` (trajectories, caches, resume)."""

    @abstractmethod
    def from_key(self, key: str) -> Hashable:
        """The architecture of a ``key``."""

    def hyperparameters(self, config: Configuration | Mapping[str, Any]) -> dict[str, float] | None:
        """Training hyperparameters carried beside the architecture (None: the space has none)."""
        return None

    # -- capabilities -------------------------------------------------------------------------------------------
    @classmethod
    def capabilities_for(cls, settings: Mapping[str, Any]) -> frozenset[str]:
        """The capabilities a space built from ``settings`` (its config node) will have, known before it is built:
        the class's, unless what a space can do depends on its settings (a declared space)."""
        return cls.capabilities

    def require(self, capability: str, for_what: str) -> None:
        if capability not in self.capabilities:
            raise CapabilityError(f"search_space={self.name} cannot {for_what} (its capabilities: "
                                  f"{', '.join(sorted(self.capabilities)) or 'none'})")

    def tabular_benchmark(self, source: str | None = None, root: str | Path | None = None) -> Any:
        """The tabular benchmark holding this space's results (``TABULAR``)."""
        self.require(TABULAR, "be looked up in a table")
        raise NotImplementedError

    def table_index(self, arch: Hashable) -> int:
        """The benchmark row of ``arch`` (``TABULAR``)."""
        self.require(TABULAR, "be looked up in a table")
        raise NotImplementedError

    def build_network(self, arch: Hashable, seed: int, C: int, N: int, num_classes: int,
                      in_channels: int = 3) -> Any:
        """A freshly initialized PyTorch network for ``arch`` (``NETWORK``)."""
        self.require(NETWORK, "build networks to train (evaluation=train)")
        raise NotImplementedError

    def supernet_layout(self) -> SupernetLayout:
        """What a one-shot supernet of this space is built from (``CELL_DAG``)."""
        self.require(CELL_DAG, "carry a one-shot supernet")
        raise NotImplementedError

    def canonical_archs(self) -> Iterator[Hashable]:
        """Every canonical architecture (``FINITE``)."""
        self.require(FINITE, "list its architectures")
        raise NotImplementedError

    def path_encoder(self) -> FeatureEncoder:
        """The path encoding of this space's configurations (``PATHS``): a ``FeatureEncoder`` named ``path``."""
        self.require(PATHS, "encode its configurations by paths (optimizer.encoding=path)")
        raise NotImplementedError
