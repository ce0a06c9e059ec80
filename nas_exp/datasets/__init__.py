"""Image datasets for train mode, read from local files (no torchvision, no download)."""

from nas_exp.datasets.images import ImageDataset, ImageSplit
from nas_exp.datasets.registry import DATASET_NAMES, check_files, load_dataset, resolve_image_root

__all__ = ["DATASET_NAMES", "ImageDataset", "ImageSplit", "check_files", "load_dataset", "resolve_image_root"]
