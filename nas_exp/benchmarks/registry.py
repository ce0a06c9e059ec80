"""The benchmarks nas-exp knows, by name, each imported only when asked for (``module:attribute`` of its
recipe). A search space names its benchmark; this registry serves tools that list or build every store
(``python -m nas_exp.data``). Adding a benchmark adds one line here and its own files."""

from __future__ import annotations

from importlib import import_module

from nas_exp.benchmarks.base import BenchmarkRecipe
from nas_exp.errors import UserError

RECIPES: dict[str, str] = {
    "nb201": "nas_exp.benchmarks.nb201_tabular:NB201_RECIPE",
    "fcnet": "nas_exp.benchmarks.fcnet:FCNET_RECIPE",
    "hpobench_mlp": "nas_exp.benchmarks.hpobench_mlp:HPOBENCH_MLP_RECIPE",
    "nasbench_graph": "nas_exp.benchmarks.nasbench_graph:NASBENCH_GRAPH_RECIPE",
}


def recipe(name: str) -> BenchmarkRecipe:
    if name not in RECIPES:
        raise UserError(f"unknown benchmark {name!r}; valid: {', '.join(RECIPES)}")
    module, attribute = RECIPES[name].split(":")
    return getattr(import_module(module), attribute)


def all_recipes() -> list[BenchmarkRecipe]:
    return [recipe(name) for name in RECIPES]
