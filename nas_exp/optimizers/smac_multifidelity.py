"""Multi-fidelity search with training epochs as the budget, through SMAC's facades:
``hyperband`` (HyperbandFacade: random configurations + Hyperband) and ``bohb`` (MultiFidelityFacade: a random
forest proposes configurations for Hyperband's brackets, BOHB-style)."""

from __future__ import annotations

import math

from smac import HyperbandFacade, MultiFidelityFacade

from nas_exp.errors import UserError
from nas_exp.optimizers.smac_base import (SMACAskTell, acquisition_maximizer, check_acquisition, check_forest,
                                          config_selector, random_forest)
from nas_exp.optimizers.smac_components import runhistory_encoder, use_lookup_run_history

FACADES = {"hyperband": HyperbandFacade, "bohb": MultiFidelityFacade}


class SMACMultiFidelity(SMACAskTell):
    """Budgets are epochs between ``min_budget`` and ``max_budget``; SMAC's Hyperband hands out
    ``max_budget / eta**k`` (floats: the runner rounds them to whole epochs). Trials at ``max_budget`` are full
    training and decide the incumbent. This optimizer does not resume training: a cell promoted from 22 to 67
    epochs is trained (and charged) from scratch, as SMAC's Hyperband does.

    Each bracket starts with configurations not proposed before, so on a space smaller than the budget needs
    (``search_space=tiny_cell``'s 18 cells: about 23 trials with min_budget 1, max_budget 9, eta 3) the search
    stops once none is left, before its budget, with that as result.json's ``stop_reason`` (``SpaceUsedUp``)."""

    uses_budgets = True
    used_up_note = "; a Hyperband bracket starts with new configurations only, and one it cannot fill is dropped"

    def __init__(self, *args, kind: str = "bohb", min_budget: float = 12, max_budget: float = 200,
                 eta: float = 3, acquisition: str = "auto", n_trees: int = 10,
                 rf_max_leaf_nodes: int | None = None, rf_max_points: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kind not in FACADES:
            raise UserError(f"unknown multi-fidelity optimizer kind {kind!r}; valid: {', '.join(FACADES)}")
        if not 0 < min_budget < max_budget:
            raise UserError(f"optimizer.min_budget must be in (0, max_budget={max_budget}), got {min_budget!r}")
        if not eta > 1:
            raise UserError(f"optimizer.eta must be > 1, got {eta!r}")
        self.name, self.max_budget, self.min_budget, self.eta = kind, float(max_budget), float(min_budget), eta
        scenario = self.scenario(min_budget=min_budget, max_budget=max_budget)
        check_acquisition(acquisition)
        check_forest(n_trees, rf_max_leaf_nodes, max_points=rf_max_points)
        facade = FACADES[kind]
        extra = {}
        if kind == "bohb":  # hyperband proposes at random: no model, no acquisition
            extra["model"] = random_forest(scenario, n_trees=n_trees, max_leaf_nodes=rf_max_leaf_nodes,
                                           max_points=rf_max_points)
            extra["acquisition_maximizer"] = acquisition_maximizer(facade, scenario, acquisition)
        self.smac = facade(
            scenario,
            target_function=self.no_target,
            **extra,
            intensifier=facade.get_intensifier(scenario, eta=eta),
            config_selector=config_selector(facade, scenario),
            runhistory_encoder=runhistory_encoder(facade, scenario),
            overwrite=True,
            logging_level=False,  # SMAC would replace the run's logging setup (run.log); its level: log_level
        )
        use_lookup_run_history(self.smac)  # O(1) objective bounds per add (smac_components)

    def budgets(self) -> list[int]:
        """The epochs this optimizer will ask for (Hyperband's rungs, rounded)."""
        n_rungs = int(math.floor(math.log(self.max_budget / self.min_budget) / math.log(self.eta) + 1e-9)) + 1
        return sorted({max(1, round(self.max_budget / self.eta**k)) for k in range(n_rungs)})
