"""Reductions beyond Tensor's core: counts, paired statistics, order statistics, NaN-aware
sums. torch's names, arguments and gradients (median's and quantile's through the sorted
positions; median() shares its gradient among equal elements, as torch's does)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import arguments, return_types
from .. import dtypes as dt
from ..amp.casting import autocast_op
from ..autograd.tensor import Tensor, where
from ..ndarray import NDArray
from ..ops.gather import Gather
from ..ops.sort import MedianAll, SortValues, sort_arrays
from .common import axis_of, floating, to_last
from .registry import export

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


@export
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """int64: how many elements are not zero (NaN counts), over dim (int, tuple or all)."""
    dims = arguments.dims("count_nonzero", dim, input.ndim)
    return (input != 0).sum(dims)


@export(method=False)
def std_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
) -> tuple[Tensor, Tensor]:
    """(std, mean) over dim, Bessel-corrected by default as torch.std."""
    return input.std(dim, keepdim, correction=correction), input.mean(dim, keepdim)


@export(method=False)
def var_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
) -> tuple[Tensor, Tensor]:
    """(var, mean) over dim, Bessel-corrected by default as torch.var."""
    return input.var(dim, keepdim, correction=correction), input.mean(dim, keepdim)


@export
def aminmax(input: Tensor, *, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """return_types.aminmax(min, max) over dim (all elements by default)."""
    return return_types.aminmax(input.amin(dim, keepdim), input.amax(dim, keepdim))


@export
def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median. With no dim: of all elements, a 0-d tensor. With a dim:
    return_types.median(values, indices) along it. A row holding NaN has median NaN (its
    first NaN's position), as in torch; of equal values the first in sorted order is named."""
    if dim is None:
        return MedianAll()(input)
    axis = axis_of("median", dim, input.ndim)
    if input.ndim == 0:
        return return_types.median(input * 1, _zeros_int(input, ()))
    n = input.shape[axis]
    if n == 0:
        raise IndexError(f"median(): cannot take the median of dim {dim}, which has size 0")
    _, order = sort_arrays(input.array, axis)
    lower = NDArray.full((), (n - 1) // 2, dt.int64, input.device)
    if input.dtype.is_floating:
        nans = input.array.binary("ne", input.array).reduce("sum", axis, True)
        first_nan = nans.scalar_op("sub", n, reflected=True)
        position = NDArray.where(nans.scalar_op("gt", 0), first_nan, lower)
    else:
        kept = tuple(1 if d == axis else s for d, s in enumerate(input.shape))
        position = lower.broadcast_to(kept)
    return _select(input, axis, _pick(order, axis, position), keepdim, return_types.median)


@export
@autocast_op("quantile")
def quantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The q-th quantiles (q a number or a 0-d/1-d tensor in [0, 1]) over dim or all
    elements, between the sorted values by `interpolation` (linear, lower, higher, midpoint,
    nearest: round half to even). A 1-d q adds a leading dim. NaN in a row gives NaN."""
    floating("quantile", input)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"quantile(): interpolation must be one of {', '.join(INTERPOLATIONS)}, got "
            f"{interpolation!r}"
        )
    qs, q_dim = _quantiles(q, input)
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    axis = None if dim is None else axis_of("quantile", dim, input.ndim)
    rows = input.reshape(-1) if axis is None or input.ndim == 0 else to_last(input, axis)
    n = rows.shape[-1]
    last = rows.ndim - 1
    ordered = SortValues(last, False)(rows)
    ranks = qs.astype(input.dtype.numpy) * (n - 1)
    below, above, weights = _interpolation(interpolation, ranks)
    tail = ordered.array.slice_view((Ellipsis, slice(n - 1, n)))
    has_nan = tail.binary("ne", tail)  # NaN sorts last: the row holds one
    device = input.device

    def positions(host: np.ndarray) -> Tensor:
        picked = NDArray.from_numpy(host.astype(np.int64), device)
        shape = has_nan.shape[:-1] + (len(host),)
        return Tensor._wrap(NDArray.where(has_nan, n - 1, picked).broadcast_to(shape).compact())

    result = Gather(last, checked=True)(ordered, positions(below))
    if above is not None:
        upper = Gather(last, checked=True)(ordered, positions(above))
        w = Tensor._wrap(NDArray.from_numpy(weights.astype(input.dtype.numpy), device))
        result = result + w * (upper - result)
    result = result.permute([last] + list(range(last)))  # the q dim first
    if keepdim:
        kept = (1,) * input.ndim if axis is None else _kept(input.shape, axis)
        result = result.reshape((len(qs),) + kept)
    elif axis is None:
        result = result.reshape(len(qs))
    return result if q_dim else result.reshape(result.shape[1:])


@export
def nansum(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """sum with NaN taken as 0 (no gradient reaches them)."""
    x = input if dtype is None else input.astype(dtype)
    if x.dtype.is_floating:
        x = where(x != x, 0.0, x)
    return x.sum(dim, keepdim)


@export
def nanmean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """mean of the elements that are not NaN (NaN where there are none). Floating only."""
    x = input if dtype is None else input.astype(dtype)
    floating("nanmean", x)
    present = x == x
    return where(present, x, 0.0).sum(dim, keepdim) / present.sum(dim, keepdim)


# --- helpers ------------------------------------------------------------------------------


def _zeros_int(like: Tensor, shape: tuple[int, ...]) -> Tensor:
    return Tensor._wrap(NDArray.full(shape, 0, dt.int64, like.device))


def _kept(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return tuple(1 if d == axis else s for d, s in enumerate(shape))


def _pick(order: NDArray, axis: int, position: NDArray) -> NDArray:
    """order gathered at `position` (of order's shape with axis 1) along axis."""
    out = NDArray.empty(position.shape, dt.int64, order.device)
    if out.size:
        order.backend.gather(order.strided(), axis, position.strided(), out.strided())
    return out


def _select(x: Tensor, axis: int, index: NDArray, keepdim: bool, result_type: type) -> Any:
    """result_type(values, indices): x gathered at index (x's shape with axis 1) along axis
    (the gradient reaches those elements), the axis dropped unless keepdim."""
    indices = Tensor._wrap(index)
    values = Gather(axis, checked=True)(x, indices)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return result_type(values, indices)


def _quantiles(q: Any, x: Tensor) -> tuple[np.ndarray, bool]:
    """(q values as a 1-D float64 host array, whether q has a dim of its own)."""
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise ValueError(f"quantile(): q must be a scalar or 1-d tensor, got shape {q.shape}")
        if q.dtype is not x.dtype:
            raise TypeError(
                f"quantile(): q tensor must have the input's dtype {x.dtype.name}, got "
                f"{q.dtype.name}"
            )
        values, q_dim = q.detach().numpy().astype(np.float64).reshape(-1), q.ndim == 1
    elif isinstance(q, (int, float, np.floating, np.integer)) and not isinstance(q, bool):
        values, q_dim = np.array([float(q)]), False
    else:
        raise TypeError(f"quantile(): q must be a number or a Tensor, got {type(q).__name__}")
    if np.any((values < 0) | (values > 1)) or np.any(values != values):
        raise ValueError(f"quantile(): q values must lie in [0, 1], got {values.tolist()}")
    return values, q_dim


def _interpolation(how: str, ranks: np.ndarray):
    """(positions below, positions above or None, weights) for torch's interpolation modes."""
    if how == "lower":
        return np.floor(ranks), None, None
    if how == "higher":
        return np.ceil(ranks), None, None
    if how == "nearest":
        return np.round(ranks), None, None  # half to even, as torch.round
    below, above = np.floor(ranks), np.ceil(ranks)
    weights = ranks - below if how == "linear" else np.full_like(ranks, 0.5)
    return below, above, weights
