"""plugrad.data: Dataset, TensorDataset, DataLoader, transforms and bundled datasets.

loader = plugrad.data.DataLoader(plugrad.data.TensorDataset(x, y), batch_size=64, shuffle=True)
for xb, yb in loader: ...
"""

from __future__ import annotations

from . import datasets, transforms
from .dataloader import DataLoader
from .dataset import Dataset, Subset, TensorDataset, default_collate, random_split
from .distributed import DistributedSampler

__all__ = [
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "Subset",
    "TensorDataset",
    "datasets",
    "default_collate",
    "random_split",
    "transforms",
]
