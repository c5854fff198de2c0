"""Samplers, as torch.utils.data: which dataset indices an epoch visits, and in what order.

A sampler is an iterable of indices (a batch sampler: of lists of indices) with an optional
`__len__`. The random ones draw from `generator` (default: the global one), and draw their
whole epoch when `iter()` is called: one random call per epoch (a RandomSampler without
replacement: one per `len(data_source)` samples), so a DataLoader's order does not depend on
when, or in which process, its batches are loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from ..random import Generator, host_integers, host_permutation, host_uniform, resolve

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: subclasses define `__iter__` (and `__len__` where the length is
    known). A sampler that reshuffles per epoch may define `set_epoch(epoch)`, which a training
    loop calls before each epoch (as DistributedSampler). `data_source` is accepted for
    torch's signature and not used."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} does not define __iter__")


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _check_bool(name: str, value: object, error: type[Exception] = TypeError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value!r}")
    return value


def _check_generator(generator: Generator | None) -> Generator | None:
    return generator if generator is None else resolve(generator)


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices in random order: a permutation of the dataset (replacement=False; with
    num_samples > len, whole permutations followed by the start of one more), or
    `num_samples` independent uniform draws (replacement=True)."""

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = _check_bool("replacement", replacement)
        self._num_samples = num_samples
        self.generator = _check_generator(generator)
        _check_positive("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """len(data_source) unless given."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            order = host_integers((count,), n, self.generator).astype(np.int64)
        else:
            cycles = [host_permutation(n, self.generator) for _ in range(-(-count // n))]
            order = np.concatenate(cycles)[:count]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices, in a random order drawn each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = _check_generator(generator)

    def __iter__(self) -> Iterator[int]:
        order = host_permutation(len(self.indices), self.generator)
        return iter([self.indices[i] for i in order.tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """`num_samples` indices into `weights`, index i drawn with probability
    weights[i] / sum(weights) (weights need not sum to 1). Without replacement each index
    appears at most once, drawn in turn from what is left, as torch.multinomial.

    One uniform per sample (replacement=True: inverse CDF) or per weight (replacement=False:
    the exponential race of Efraimidis and Spirakis, which orders the indices by
    -log(1 - u_i) / w_i, the same distribution as drawing one at a time)."""

    def __init__(
        self,
        weights: Sequence[float] | Any,
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        self.num_samples = _check_positive("num_samples", num_samples)
        self.replacement = _check_bool("replacement", replacement, ValueError)
        self.generator = _check_generator(generator)
        values = weights.numpy() if hasattr(weights, "numpy") else weights
        w = np.asarray(values, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {w.shape}"
            )
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and non-negative")
        positive = int(np.count_nonzero(w))
        if positive == 0:
            raise ValueError("weights sum to zero: at least one weight must be positive")
        if not replacement and self.num_samples > positive:
            raise ValueError(
                f"cannot draw {self.num_samples} samples without replacement from {positive} "
                "non-zero weights; lower num_samples or pass replacement=True"
            )
        self.weights = w

    def __iter__(self) -> Iterator[int]:
        w = self.weights
        if self.replacement:
            cdf = np.cumsum(w)
            cdf /= cdf[-1]
            u = host_uniform((self.num_samples,), self.generator)
            order = np.minimum(np.searchsorted(cdf, u, side="right"), len(w) - 1)
        else:
            u = host_uniform((len(w),), self.generator)
            with np.errstate(divide="ignore"):
                keys = -np.log1p(-u) / w  # zero weights: +inf, never drawn
            order = np.argsort(keys, kind="stable")[: self.num_samples]
        return iter(order.astype(np.int64).tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Lists of `batch_size` indices from `sampler` (any iterable of indices); the last list
    is shorter unless drop_last. The sampler's order is drawn when `iter()` is called."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:  # fmt: skip
        self.sampler = sampler
        self.batch_size = _check_positive("batch_size", batch_size)
        self.drop_last = _check_bool("drop_last", drop_last, ValueError)

    def __iter__(self) -> Iterator[list[int]]:
        return self._batches(iter(self.sampler))

    def _batches(self, indices: Iterator[int]) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in indices:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
