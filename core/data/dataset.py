"""Datasets: the map-style Dataset and the IterableDataset protocols, TensorDataset, Subset,
ConcatDataset, ChainDataset and random_split."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..random import Generator, host_permutation
from .collate import HostTensor, default_collate

__all__ = [
    "ChainDataset",
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]

Collate = Callable[[list[Any]], Any]


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` for 0 <= i < len(ds).

    `get_batch(indices, collate)` returns a whole collated batch; the default collates the
    samples one by one with `collate` (the DataLoader's workers pass one that builds no
    tensors), and subclasses that can fetch a batch at once (TensorDataset) override it.
    `a + b` is ConcatDataset([a, b]).
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")

    def get_batch(self, indices: np.ndarray, collate: Collate = default_collate) -> Any:
        """The samples at `indices` (int64 NumPy array), collated with `collate`."""
        return collate([self[int(i)] for i in indices])

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define `__iter__`. With DataLoader workers,
    each worker iterates its own copy of the whole dataset; shard it in `__iter__` with
    `plugrad.data.get_worker_info()` (id, num_workers) to give each worker a part.
    `a + b` is ChainDataset([a, b])."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} does not define __iter__")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} has no len(); a stream may define __len__")

    def __add__(self, other: Dataset) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the i-th rows of tensors sharing their first dimension: ds[i] is
    (x[i], y[i]). `transform` (optional) is applied to the first tensor of each sample."""

    def __init__(
        self, *tensors: Tensor, transform: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset takes Tensors, got {type(t).__name__}")
            if t.ndim == 0 or t.shape[0] != tensors[0].shape[0]:
                raise ValueError(
                    "TensorDataset tensors must share their first dimension, got shapes "
                    f"{[x.shape for x in tensors]}"
                )
        self.tensors = tuple(t.detach() for t in tensors)
        self.transform = transform

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        sample = tuple(t[index] for t in self.tensors)
        if self.transform is not None:
            sample = (self.transform(sample[0]),) + sample[1:]
        return sample

    def get_batch(self, indices: np.ndarray, collate: Collate = default_collate) -> Any:
        """One indexing op per tensor (a slice when the indices are consecutive); with a
        transform, sample by sample through `collate`."""
        if self.transform is not None:
            return super().get_batch(indices, collate)
        count = len(indices)
        if (
            count
            and int(indices[-1]) - int(indices[0]) == count - 1
            and (count == 1 or bool((np.diff(indices) == 1).all()))
        ):
            key: Any = slice(int(indices[0]), int(indices[0]) + count)
        else:
            key = np.asarray(indices, dtype=np.int64)
        return tuple(t[key] for t in self.tensors)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for spawned DataLoader workers) with its tensors as HostTensor records,
        rebuilt on their devices on unpickling: plugrad tensors themselves do not pickle."""
        state = dict(self.__dict__)
        state["tensors"] = tuple(
            HostTensor(t.numpy(), t.dtype.name, t.device.name) for t in self.tensors
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["tensors"] = tuple(record.build() for record in state["tensors"])
        self.__dict__.update(state)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray, collate: Collate = default_collate) -> Any:
        return self.dataset.get_batch(self.indices[np.asarray(indices, dtype=np.int64)], collate)


class ConcatDataset(Dataset):
    """The samples of several map-style datasets, one after another.

    cumulative_sizes[i] is the number of samples in datasets[0..i]."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset, got an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        index = index + n if index < 0 else index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        before = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - before]


class ChainDataset(IterableDataset):
    """Several iterable datasets, chained: iterates each in turn."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(
                    f"ChainDataset only chains IterableDatasets, got {type(d).__name__}"
                )
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None
) -> list[Subset]:
    """Split into disjoint random Subsets of the given lengths (or fractions summing to 1),
    cut from `plugrad.randperm(len(dataset), generator=generator)` in order."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1.0) < 1e-9:
        sizes = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = [int(x) for x in lengths]
    if sum(sizes) != n:
        raise ValueError(
            f"split lengths {list(lengths)} do not add up to the dataset's {n} samples"
        )
    order = host_permutation(n, generator)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[start : start + size]))
        start += size
    return out
