"""DataLoader: batches from a dataset, optionally shuffled from a seeded generator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..random import Generator, default_generator
from .dataset import Dataset

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size`.

    shuffle: a new order each epoch, drawn from `generator` (default: the global generator, so
    `plugrad.manual_seed(n)` makes it reproducible). drop_last: skip a final short batch.
    collate_fn: turns a list of samples into a batch (default: the dataset's `get_batch`, which
    for a TensorDataset indexes each tensor once per batch). sampler: an iterable of indices
    that gives the order instead (a DistributedSampler); it excludes shuffle.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: Generator | None = None,
        sampler: Iterable[int] | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        if self.shuffle:
            return (self.generator or default_generator).numpy().permutation(n).astype(np.int64)
        return np.arange(n, dtype=np.int64)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        get_batch = getattr(self.dataset, "get_batch", None)
        for start in range(0, stop, self.batch_size):
            indices = order[start : start + self.batch_size]
            if self.collate_fn is not None:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
            elif get_batch is not None:
                yield get_batch(indices)
            else:
                from .dataset import default_collate

                yield default_collate([self.dataset[int(i)] for i in indices])
