from nas_exp.optimizers.base import Optimizer, Trial

__all__ = ["Optimizer", "Trial"]
