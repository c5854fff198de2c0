"""Cumulative ops along a dim: cumsum, cumprod (and their in-place forms), cummax, cummin,
logcumsumexp, as torch's (integer and bool inputs of cumsum and cumprod give int64)."""

from __future__ import annotations

from typing import Any

from .. import dtypes as dt
from .. import return_types
from ..amp.casting import autocast_op
from ..autograd.tensor import Tensor
from ..ops.scan import CumExtreme, CumProd, CumSum, LogCumSumExp
from .common import axis_of, floating
from .registry import export


def _source(input: Tensor, dtype: Any) -> Tensor:  # noqa: A002
    """The scan's operand: cast to dtype, or integers and bools widened to int64 (torch)."""
    if dtype is not None:
        return input.astype(dtype)
    return input if input.dtype.is_floating else input.astype(dt.int64)


def _along(op_class: type, fn: str, input: Tensor, dim: Any) -> Tensor:  # noqa: A002
    axis = axis_of(fn, dim, input.ndim)
    if input.ndim == 0:  # one element: the scan of a 1-element row
        return op_class(0)(input.reshape(1)).reshape(())
    return op_class(axis)(input)


@export(inplace_form=True)
@autocast_op("cumsum")
def cumsum(input: Tensor, dim: Any, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Running sums along dim: out[i] = x[0] + ... + x[i]."""
    return _along(CumSum, "cumsum", _source(input, dtype), dim)


@export(inplace_form=True)
@autocast_op("cumprod")
def cumprod(input: Tensor, dim: Any, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Running products along dim; the gradient is exact where x has zeros."""
    return _along(CumProd, "cumprod", _source(input, dtype), dim)


def _extreme(op: str, input: Tensor, dim: Any, result_type: type) -> Any:  # noqa: A002
    axis = axis_of("cum" + op, dim, input.ndim)
    x = input.reshape(1) if input.ndim == 0 else input
    scan = CumExtreme(op, 0 if input.ndim == 0 else axis)
    values = scan(x)
    indices = Tensor._wrap(scan.indices)  # type: ignore[arg-type]
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return result_type(values, indices)


@export
def cummax(input: Tensor, dim: Any) -> Any:  # noqa: A002
    """return_types.cummax(values, indices): the running max along dim and where it was
    reached (the last of equal values; NaN propagates, indices naming the latest NaN)."""
    return _extreme("max", input, dim, return_types.cummax)


@export
def cummin(input: Tensor, dim: Any) -> Any:  # noqa: A002
    """return_types.cummin(values, indices), as cummax."""
    return _extreme("min", input, dim, return_types.cummin)


@export
def logcumsumexp(input: Tensor, dim: Any) -> Tensor:  # noqa: A002
    """log(cumsum(exp(x))) along dim, without overflow. Floating only."""
    floating("logcumsumexp", input)
    return _along(LogCumSumExp, "logcumsumexp", input, dim)
