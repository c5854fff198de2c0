"""Argument helpers shared by the method families: one dim, tensors of the right kind."""

from __future__ import annotations

from typing import Any

from .. import arguments
from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..shapes import normalize_axis


def axis_of(fn: str, dim: Any, ndim: int) -> int:
    """One dim as a non-negative int (a 0-d tensor has dims 0 and -1, as in torch)."""
    return normalize_axis(arguments.integer(fn, "dim", dim), ndim)


def tensor_of(fn: str, name: str, value: Any, dtype: dt.DType | None = None) -> Tensor:
    """`value` as a Tensor (TypeError for anything else), checked for `dtype` when given."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): {name} must be a Tensor, got {type(value).__name__}")
    if dtype is not None and value.dtype is not dtype:
        raise TypeError(
            f"{fn}(): {name} must be {dtype.name}, got {value.dtype.name} "
            f"(cast with .to(plugrad.{dtype.name}))"
        )
    return value


def indices_of(fn: str, name: str, value: Any, like: Tensor) -> Tensor:
    """An int64 index tensor on `like`'s device."""
    index = tensor_of(fn, name, value, dt.int64)
    if index.device is not like.device:
        raise RuntimeError(
            f"{fn}(): {name} is on {index.device.name} but the input is on {like.device.name}; "
            "move it with .to()"
        )
    return index


def floating(fn: str, x: Tensor) -> None:
    if not x.dtype.is_floating:
        raise TypeError(
            f"{fn}(): expected a floating point input, got {x.dtype.name} (cast with .double())"
        )


def to_last(x: Tensor, axis: int) -> Tensor:
    """x with `axis` moved to the end (a differentiable view)."""
    if axis == x.ndim - 1:
        return x
    return x.permute([d for d in range(x.ndim) if d != axis] + [axis])


def from_last(x: Tensor, axis: int) -> Tensor:
    """The inverse of `to_last`."""
    if axis == x.ndim - 1:
        return x
    order = list(range(x.ndim - 1))
    order.insert(axis, x.ndim - 1)
    return x.permute(order)
