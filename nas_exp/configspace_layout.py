"""ConfigSpace facts that optimizers and search spaces share: the values of a finite hyperparameter, and whether a
ConfigSpace encodes a known layout, so that a configuration can be decoded from its vector without converting
every value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace, OrdinalHyperparameter


def finite_choices(hp: Any) -> tuple | None:
    """The values of a categorical or ordinal hyperparameter, in order; None for any other kind."""
    if isinstance(hp, CategoricalHyperparameter):
        return tuple(hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return tuple(hp.sequence)
    return None


def space_size(configspace: ConfigurationSpace) -> int | None:
    """How many configurations a space of categorical and ordinal hyperparameters holds at most (conditions not
    counted); None where one is continuous."""
    size = 1
    for hp in configspace.values():
        choices = finite_choices(hp)
        if choices is None:
            return None
        size *= len(choices)
    return size


class VectorLayout:
    """``(name, values)`` for each vector column in order: column i is hyperparameter ``name``, categorical or
    ordinal over ``values`` in that order, so its encoded value is the position of the configuration's value.
    ``matches`` checks a ConfigSpace against it once and remembers the last one that passed, by identity."""

    def __init__(self, columns: Sequence[tuple[str, tuple]]) -> None:
        self.columns = [(name, tuple(values)) for name, values in columns]
        self._matched: ConfigurationSpace | None = None

    def matches(self, configspace: ConfigurationSpace) -> bool:
        if configspace is self._matched:
            return True
        same = len(configspace) == len(self.columns) and all(
            name in configspace and configspace.index_of[name] == column
            and finite_choices(configspace[name]) == values
            for column, (name, values) in enumerate(self.columns))
        if same:
            self._matched = configspace
        return same
