"""The tabular evaluator's precomputed path (``MeanLookup``: every configuration's seed-mean evaluation read once
as arrays) answers exactly what the general path (one table query per value) answers, for every NB201 cell."""

from __future__ import annotations

import numpy as np
import pytest

from nas_exp.evaluation.tabular import TabularEvaluator, _nan_mean
from nas_exp.search_spaces.nb201 import NB201Space, all_archs


def general_path(evaluator: TabularEvaluator, arch, rng) -> object:
    """``evaluate`` with the lookup disabled for this row (as for a row it refuses)."""
    index = evaluator.space.table_index(arch)
    evaluator._lookup.refused[index] = True
    try:
        return evaluator.evaluate(arch, rng)
    finally:
        evaluator._lookup.refused[index] = False


@pytest.mark.parametrize("search_on,report_on", [("cifar10-valid", "cifar10"), ("ImageNet16-120", "ImageNet16-120")])
def test_lookup_equals_the_general_path_on_every_cell(bench, search_on, report_on):
    evaluator = TabularEvaluator(NB201Space(), search_on, report_on, benchmark=bench)
    rng = np.random.default_rng(0)
    evaluator.evaluate(all_archs()[0], rng)
    assert evaluator._lookup is not None
    for arch in all_archs():
        fast = evaluator.evaluate(arch, rng)
        assert fast == general_path(evaluator, arch, rng), arch


def test_sampled_seeds_and_partial_training_take_the_general_path(bench):
    evaluator = TabularEvaluator(NB201Space(), "cifar10-valid", "cifar10-valid", benchmark=bench, seed_policy="sample")
    arch = all_archs()[123]
    draws = {evaluator.evaluate(arch, np.random.default_rng(s)).seed for s in range(20)}
    assert evaluator._lookup is None and len(draws) > 1


def test_nan_mean_matches_the_mean_of_present_runs_row_by_row():
    rng = np.random.default_rng(1)
    for n_runs in (1, 3, 7, 8, 11):
        runs = rng.normal(90, 5, size=(200, n_runs))
        runs[rng.random(runs.shape) < 0.3] = np.nan
        expected = [r[~np.isnan(r)].mean() if (~np.isnan(r)).any() else np.nan for r in runs]
        np.testing.assert_array_equal(_nan_mean(runs), np.array(expected))
