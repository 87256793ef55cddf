"""Datasets and loaders.

>>> from lae.data import DataConfig, load_dataset, BatchLoader
>>> splits = load_dataset(DataConfig(name="toy2d:moons", n_toy=100))
>>> splits.train.shape, splits.test.shape
(torch.Size([100, 2]), torch.Size([20, 2]))
"""

from lae.data.config import DataConfig, DataSplits, RawData
from lae.data.download import download_file
from lae.data.load import load_dataset
from lae.data.loader import BatchLoader, evenly_spaced
from lae.data.registry import list_datasets, register_dataset

__all__ = [
    "BatchLoader",
    "DataConfig",
    "DataSplits",
    "RawData",
    "download_file",
    "evenly_spaced",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
