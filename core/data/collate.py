"""Collation, and the host form in which batches cross from DataLoader workers.

`default_collate` stacks a list of samples into a batch of tensors; `default_convert` turns
NumPy arrays in one sample into tensors (the DataLoader's collate_fn when batch_size=None).

A worker process builds no tensors of its own for a batch: it collates into `HostTensor`
records (a NumPy array or a list, plus the dtype and device the tensor is to have) and
`to_host` turns any tensor a dataset or collate_fn made into one, so what crosses the process
boundary is NumPy data and names. The main process's `from_host` builds the tensors, on the
device each one names (the default device for numbers and arrays, as default_collate does),
so batches equal those of num_workers=0 and no backend state crosses fork.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor

__all__ = ["HostTensor", "default_collate", "default_convert", "from_host", "to_host"]


@dataclass(frozen=True)
class HostTensor:
    """A tensor in transit: `tensor(data, dtype=dtype, device=device)` in the main process
    (dtype and device are names; None: inferred from data / the default device)."""

    data: Any
    dtype: str | None
    device: str | None

    def build(self) -> Tensor:
        from ..factory import tensor

        return tensor(self.data, dtype=self.dtype, device=self.device)


class _Tensors:
    """Leaves of a batch built as tensors, here (num_workers=0)."""

    @staticmethod
    def array(data: Any, dtype: str | None) -> Any:
        return HostTensor(data, dtype, None).build()

    @staticmethod
    def stack(batch: list[Tensor]) -> Any:
        from ..autograd.tensor import stack

        return stack(batch)

    @staticmethod
    def keep(t: Tensor) -> Any:
        return t


class _Host:
    """Leaves of a batch as HostTensor records (in a worker)."""

    @staticmethod
    def array(data: Any, dtype: str | None) -> Any:
        return HostTensor(data, dtype, None)

    @staticmethod
    def stack(batch: list[Tensor]) -> Any:
        first = batch[0]
        devices = {t.device.name for t in batch}
        if len(devices) > 1:
            raise ValueError(f"a batch holds tensors on different devices {sorted(devices)}")
        same = all(t.dtype == first.dtype for t in batch)
        data = np.stack([t.detach().numpy() for t in batch])
        return HostTensor(data, first.dtype.name if same else None, first.device.name)

    @staticmethod
    def keep(t: Tensor) -> Any:
        return HostTensor(t.detach().numpy(), t.dtype.name, t.device.name)


def _collate(batch: list[Any], leaf: type) -> Any:
    if not batch:
        raise ValueError("default_collate got an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        return leaf.stack(batch)
    if isinstance(first, np.ndarray):
        return leaf.array(np.stack(batch), None)
    if isinstance(first, (bool, np.bool_)):
        return leaf.array(list(batch), None)
    if isinstance(first, (int, np.integer)):
        return leaf.array(list(batch), "int64")
    if isinstance(first, (float, np.floating)):
        return leaf.array(list(batch), "float64")
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, Mapping):
        return _like(first, {key: _collate([s[key] for s in batch], leaf) for key in first})
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise ValueError("default_collate: samples in a batch have different lengths")
        columns = [_collate(list(column), leaf) for column in zip(*batch)]
        if hasattr(first, "_fields"):  # a namedtuple
            return type(first)(*columns)
        return tuple(columns) if isinstance(first, tuple) else columns
    raise TypeError(
        f"default_collate can't batch {type(first).__name__}; pass collate_fn= to the DataLoader"
    )


def _convert(data: Any, leaf: type) -> Any:
    if isinstance(data, Tensor):
        return leaf.keep(data)
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return leaf.array(data, None)
    if isinstance(data, (np.number, np.bool_)):
        return leaf.array(np.asarray(data), None)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        return _like(data, {key: _convert(value, leaf) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert(d, leaf) for d in data))
    if isinstance(data, tuple):
        return [_convert(d, leaf) for d in data]  # a list, as torch's default_convert
    if isinstance(data, Sequence):
        return _like(data, [_convert(d, leaf) for d in data])
    return data


def _like(original: Any, converted: Any) -> Any:
    """`converted` in `original`'s container type where that type can be built from it."""
    if type(original) in (dict, list):
        return converted
    try:
        return type(original)(converted)
    except TypeError:
        return converted


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples: Tensors -> one Tensor (new first dimension), ints -> int64,
    floats -> float64, bools -> bool, NumPy arrays -> Tensor; strings -> a list; tuples,
    lists, namedtuples and dicts element by element."""
    return _collate(batch, _Tensors)


def default_convert(data: Any) -> Any:
    """One sample with its NumPy arrays and NumPy scalars as tensors (tuples become lists, as
    torch); the DataLoader's collate_fn when batch_size=None."""
    return _convert(data, _Tensors)


def collate_to_host(batch: list[Any]) -> Any:
    """default_collate, with HostTensor records in place of tensors."""
    return _collate(batch, _Host)


def convert_to_host(data: Any) -> Any:
    """default_convert, with HostTensor records in place of tensors."""
    return _convert(data, _Host)


HOST_FORMS: dict[Callable[..., Any], Callable[..., Any]] = {
    default_collate: collate_to_host,
    default_convert: convert_to_host,
}


def to_host(batch: Any) -> Any:
    """Every Tensor in a (nested tuple / list / dict) batch as a HostTensor."""
    if isinstance(batch, Tensor):
        return _Host.keep(batch)
    return _map(batch, to_host)


def from_host(batch: Any) -> Any:
    """Every HostTensor in a batch built as a Tensor (in the main process)."""
    if isinstance(batch, HostTensor):
        return batch.build()
    return _map(batch, from_host)


def _map(batch: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(batch, dict):
        return _like(batch, {key: fn(value) for key, value in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(fn(x) for x in batch))
    if type(batch) in (tuple, list):
        return type(batch)(fn(x) for x in batch)
    return batch
