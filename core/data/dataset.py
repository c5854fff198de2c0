"""Datasets: the map-style Dataset protocol, TensorDataset, Subset and random_split."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..random import Generator, host_permutation

__all__ = ["Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` for 0 <= i < len(ds).

    `get_batch(indices)` returns a whole collated batch; the default collates the samples one
    by one, and subclasses that can fetch a batch at once (TensorDataset) override it.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")

    def get_batch(self, indices: np.ndarray) -> Any:
        """The samples at `indices` (int64 NumPy array), collated with `default_collate`."""
        return default_collate([self[int(i)] for i in indices])


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

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """One indexing op per tensor (a slice when the indices are consecutive)."""
        if self.transform is not None:
            return super().get_batch(indices)
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


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.dataset.get_batch(self.indices[np.asarray(indices, dtype=np.int64)])


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


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples: Tensors -> one Tensor (new first dimension), ints -> int64,
    floats -> float64, NumPy arrays -> Tensor; tuples, lists and dicts element by element."""
    from ..autograd.tensor import stack
    from ..factory import tensor

    if not batch:
        raise ValueError("default_collate got an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, np.ndarray):
        return tensor(np.stack(batch))
    if isinstance(first, (bool, np.bool_)):
        return tensor(batch)
    if isinstance(first, (int, np.integer)):
        return tensor(batch, dtype="int64")
    if isinstance(first, (float, np.floating)):
        return tensor(batch, dtype="float64")
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise ValueError("default_collate: samples in a batch have different lengths")
        columns = [default_collate(list(column)) for column in zip(*batch)]
        return tuple(columns) if isinstance(first, tuple) else columns
    raise TypeError(
        f"default_collate can't batch {type(first).__name__}; pass collate_fn= to the DataLoader"
    )
