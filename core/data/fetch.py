"""Fetchers: one batch (or one sample) from a dataset, the same in the main process and in a
DataLoader worker; a worker's fetcher (host=True) collates into HostTensor records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .collate import HOST_FORMS, default_collate, to_host
from .dataset import Dataset, IterableDataset

__all__ = ["make_fetcher"]


class _MapFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[..., Any],
                 drop_last: bool, host: bool) -> None:  # fmt: skip
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.collate = HOST_FORMS.get(collate_fn, collate_fn) if host else collate_fn
        self.host = host

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            batch = self.collate(self.dataset[index])
        elif self.collate_fn is default_collate and isinstance(self.dataset, Dataset):
            batch = self.dataset.get_batch(np.asarray(index, dtype=np.int64), self.collate)
        else:
            batch = self.collate([self.dataset[i] for i in index])
        return to_host(batch) if self.host else batch


class _IterableFetcher:
    """`fetch(batch_size)`: the next batch_size items of the dataset's iterator (fewer at its
    end, none with drop_last), or the next item when batch_size is None."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[..., Any],
                 drop_last: bool, host: bool) -> None:  # fmt: skip
        self.iterator: Iterator[Any] = iter(dataset)
        self.auto_collation = auto_collation
        self.collate = HOST_FORMS.get(collate_fn, collate_fn) if host else collate_fn
        self.drop_last = drop_last
        self.host = host
        self.ended = False

    def fetch(self, batch_size: int | None) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            items = []
            for item in self.iterator:
                items.append(item)
                if len(items) == batch_size:
                    break
            else:
                self.ended = True
            if not items or (self.drop_last and len(items) < batch_size):  # type: ignore[operator]
                raise StopIteration
            batch = self.collate(items)
        else:
            batch = self.collate(next(self.iterator))
        return to_host(batch) if self.host else batch


def make_fetcher(
    dataset: Any,
    auto_collation: bool,
    collate_fn: Callable[..., Any],
    drop_last: bool,
    host: bool = False,
) -> _MapFetcher | _IterableFetcher:
    kind = _IterableFetcher if isinstance(dataset, IterableDataset) else _MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last, host)
