"""Training NB201 networks for real (train mode): recipe, device-resident data, trainer, checkpoints."""

from nas_exp.training.device_data import DeviceData, DeviceSplit
from nas_exp.training.inference import SplitScore, score_split
from nas_exp.training.recipe import TrainRecipe
from nas_exp.training.trainer import EpochStats, Trainer, TrainResult

__all__ = ["DeviceData", "DeviceSplit", "EpochStats", "SplitScore", "TrainRecipe", "TrainResult", "Trainer",
           "score_split"]
