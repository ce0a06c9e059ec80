"""One-shot NAS on the NB201 cell space: a weight-sharing supernet and the optimizers that search it (DARTS 1st/2nd
order, GDAS, RSWS, ENAS, SPOS), run from ``run.py optimizer=...`` via ``nas_exp.one_shot.run.run_one_shot``."""

from nas_exp.one_shot.darts import DARTS
from nas_exp.one_shot.enas import ENAS
from nas_exp.one_shot.gdas import GDAS
from nas_exp.one_shot.rsws import RSWS
from nas_exp.one_shot.settings import OneShotSettings
from nas_exp.one_shot.spos import SPOS
from nas_exp.one_shot.supernet import NB201SuperNet

__all__ = ["DARTS", "ENAS", "GDAS", "NB201SuperNet", "OneShotSettings", "RSWS", "SPOS"]
