"""The benchmarks nas-exp knows: every ``BenchmarkRecipe`` defined at module level in a module of
``nas_exp.benchmarks`` (found by importing them), so adding a benchmark is adding its files, nothing else. Search
spaces open their own benchmark directly; this registry serves tools that list or build every store
(``python -m nas_exp.data info|build``)."""

from __future__ import annotations

import pkgutil
from importlib import import_module

import nas_exp.benchmarks as package
from nas_exp.benchmarks.base import BenchmarkRecipe
from nas_exp.errors import UserError


def all_recipes() -> list[BenchmarkRecipe]:
    """Every recipe of the package's modules, by name (a recipe imported into several modules counts once)."""
    found: dict[str, BenchmarkRecipe] = {}
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        for value in vars(import_module(module.name)).values():
            if isinstance(value, BenchmarkRecipe):
                found.setdefault(value.name, value)
    return [found[name] for name in sorted(found)]


def recipe(name: str) -> BenchmarkRecipe:
    recipes = {r.name: r for r in all_recipes()}
    if name not in recipes:
        raise UserError(f"unknown benchmark {name!r}; valid: {', '.join(recipes)}")
    return recipes[name]
