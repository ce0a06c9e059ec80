"""One-shot NAS on any cell space (capability ``CELL_DAG``): a weight-sharing supernet built from the space's
``supernet_layout()`` and the optimizers that search it (DARTS 1st/2nd order, GDAS, RSWS, ENAS, SPOS), run from
``run.py optimizer=...`` via ``nas_exp.one_shot.run.run_one_shot``. Nothing here knows a space by name."""

from nas_exp.one_shot.darts import DARTS
from nas_exp.one_shot.enas import ENAS
from nas_exp.one_shot.gdas import GDAS
from nas_exp.one_shot.rsws import RSWS
from nas_exp.one_shot.settings import OneShotSettings
from nas_exp.one_shot.spos import SPOS
from nas_exp.one_shot.supernet import SuperNet, build_supernet

__all__ = ["DARTS", "ENAS", "GDAS", "OneShotSettings", "RSWS", "SPOS", "SuperNet", "build_supernet"]
