"""Statistical, searching, sorting, set, manipulation, utility, indexing and linear-algebra
functions of the Array API: plugrad's functions under the standard's names and arguments
(`axis`, `keepdims`, `correction`, `descending`, `stable`, ...)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import api
from .. import dtypes as dt
from ..autograd.tensor import Tensor, cat
from ..autograd.tensor import where as _where
from ..ndarray import NDArray
from ..shapes import broadcast_shapes, normalize_axis
from ._dtypes import result_type

_F = api.FUNCTIONS


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (normalize_axis(axis, ndim),)
    return tuple(normalize_axis(a, ndim) for a in axis)


def _cast(x: Tensor, dtype: Any) -> Tensor:
    return x if dtype is None else x.astype(dtype)


def _accumulation_dtype(x: Tensor, dtype: Any) -> Any:
    """sum's, prod's and the cumulative ones' dtype: `dtype` when given (plugrad's own would
    widen a small integer dtype to int64, as torch's); else int64 for a bool or integer x
    (the standard's default integer, and in place of its default unsigned one, which plugrad
    has none of: uint8 is its only unsigned dtype), else x's own."""
    if dtype is not None:
        return dt.as_dtype(dtype)
    return dt.int64 if not x.dtype.is_floating else None


def _accumulate(out: Tensor, dtype: Any) -> Tensor:
    return out if dtype is None or out.dtype is dtype else out.astype(dtype)


# --- statistical -------------------------------------------------------------------------
def max(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:  # noqa: A001
    return x.amax(_axes(axis, x.ndim), keepdims) if x.ndim else x.clone()


def min(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:  # noqa: A001
    return x.amin(_axes(axis, x.ndim), keepdims) if x.ndim else x.clone()


def mean(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:
    return x.mean(_axes(axis, x.ndim), keepdims)


def sum(  # noqa: A001
    x: Tensor, /, *, axis: Any = None, dtype: Any = None, keepdims: builtins.bool = False
) -> Tensor:
    dtype = _accumulation_dtype(x, dtype)
    return _accumulate(_cast(x, dtype).sum(_axes(axis, x.ndim), keepdims), dtype)


def prod(
    x: Tensor, /, *, axis: Any = None, dtype: Any = None, keepdims: builtins.bool = False
) -> Tensor:
    dtype = _accumulation_dtype(x, dtype)
    return _accumulate(_cast(x, dtype).prod(_axes(axis, x.ndim), keepdims), dtype)


def var(
    x: Tensor, /, *, axis: Any = None, correction: int | float = 0.0,
    keepdims: builtins.bool = False,
) -> Tensor:  # fmt: skip
    return x.var(_axes(axis, x.ndim), keepdims, correction=correction)


def std(
    x: Tensor, /, *, axis: Any = None, correction: int | float = 0.0,
    keepdims: builtins.bool = False,
) -> Tensor:  # fmt: skip
    return x.std(_axes(axis, x.ndim), keepdims, correction=correction)


def _cumulative(fn: str, x: Tensor, axis: Any, dtype: Any, include_initial: builtins.bool,
                initial: int) -> Tensor:  # fmt: skip
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"cumulative_{fn}: axis is required for a {x.ndim}-d array")
        axis = 0
    dtype = _accumulation_dtype(x, dtype)
    x = _cast(x, dtype)
    axis = normalize_axis(axis, x.ndim)
    out = _accumulate(_F["cum" + fn](x, axis), dtype)
    if include_initial:
        shape = list(x.shape)
        shape[axis] = 1
        first = Tensor._wrap(NDArray.full(tuple(shape), initial, out.dtype, out.device))
        out = cat([first, out], axis)
    return out


def cumulative_sum(
    x: Tensor, /, *, axis: int | None = None, dtype: Any = None,
    include_initial: builtins.bool = False,
) -> Tensor:  # fmt: skip
    return _cumulative("sum", x, axis, dtype, include_initial, 0)


def cumulative_prod(
    x: Tensor, /, *, axis: int | None = None, dtype: Any = None,
    include_initial: builtins.bool = False,
) -> Tensor:  # fmt: skip
    return _cumulative("prod", x, axis, dtype, include_initial, 1)


# --- searching ---------------------------------------------------------------------------
def _arg(method: str, x: Tensor, axis: int | None, keepdims: builtins.bool) -> Tensor:
    if axis is None:
        out = getattr(x.reshape(-1), method)(0)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return getattr(x, method)(axis, keepdims)


def argmax(x: Tensor, /, *, axis: int | None = None, keepdims: builtins.bool = False) -> Tensor:
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Tensor, /, *, axis: int | None = None, keepdims: builtins.bool = False) -> Tensor:
    return _arg("argmin", x, axis, keepdims)


def count_nonzero(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:
    return (x != 0).sum(_axes(axis, x.ndim), keepdims)


def nonzero(x: Tensor, /) -> tuple[Tensor, ...]:
    if x.ndim == 0:
        raise ValueError("nonzero: a 0-d array has no positions (the standard refuses it)")
    return tuple(x.nonzero(as_tuple=True))


def searchsorted(
    x1: Tensor, x2: Any, /, *, side: str = "left", sorter: Tensor | None = None
) -> Tensor:
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    return _F["searchsorted"](x1, x2, side=side, sorter=sorter)


def where(condition: Tensor, x1: Any, x2: Any, /) -> Tensor:
    return _where(condition, x1, x2)


# --- sorting -----------------------------------------------------------------------------
def sort(
    x: Tensor, /, *, axis: int = -1, descending: builtins.bool = False,
    stable: builtins.bool = True,
) -> Tensor:  # fmt: skip
    return _F["sort"](x, axis, descending, stable=stable).values


def argsort(
    x: Tensor, /, *, axis: int = -1, descending: builtins.bool = False,
    stable: builtins.bool = True,
) -> Tensor:  # fmt: skip
    return _F["argsort"](x, axis, descending, stable=stable)


# --- set (NaNs are each distinct; computed by NumPy on a host copy) -----------------------
class UniqueAllResult(NamedTuple):
    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    values: Tensor
    inverse_indices: Tensor


def _unique(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    host = np.asarray(x.detach().array.numpy())
    flat = host.reshape(-1)
    values, index, inverse, counts = np.unique(
        flat, return_index=True, return_inverse=True, return_counts=True, equal_nan=False
    )
    device = x.device

    def back(a: np.ndarray, dtype: dt.DType) -> Tensor:
        # (np.ascontiguousarray would make a 0-d array 1-d)
        return Tensor._wrap(NDArray.from_numpy(np.array(a, order="C"), device, dtype))

    return (back(values, x.dtype), back(index, dt.int64),
            back(inverse.reshape(host.shape), dt.int64), back(counts, dt.int64))  # fmt: skip


def unique_all(x: Tensor, /) -> UniqueAllResult:
    return UniqueAllResult(*_unique(x))


def unique_counts(x: Tensor, /) -> UniqueCountsResult:
    values, _, _, counts = _unique(x)
    return UniqueCountsResult(values, counts)


def unique_inverse(x: Tensor, /) -> UniqueInverseResult:
    values, _, inverse, _ = _unique(x)
    return UniqueInverseResult(values, inverse)


def unique_values(x: Tensor, /) -> Tensor:
    return _unique(x)[0]


# --- manipulation ------------------------------------------------------------------------
def _common(arrays: Sequence[Tensor]) -> list[Tensor]:
    arrays = list(arrays)
    if not arrays:
        raise ValueError("expected at least one array")
    dtype = result_type(*arrays)
    return [a.astype(dtype) for a in arrays]


def broadcast_arrays(*arrays: Tensor) -> list[Tensor]:
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return [a.broadcast_to(shape) for a in arrays]


def broadcast_to(x: Tensor, /, shape: Sequence[int]) -> Tensor:
    return x.broadcast_to(tuple(shape))


def concat(arrays: Sequence[Tensor], /, *, axis: int | None = 0) -> Tensor:
    arrays = _common(arrays)
    if axis is None:
        return cat([a.reshape(-1) for a in arrays], 0)
    return cat(arrays, axis)


def stack(arrays: Sequence[Tensor], /, *, axis: int = 0) -> Tensor:
    from ..autograd.tensor import stack as _stack

    return _stack(_common(arrays), axis)


def expand_dims(x: Tensor, /, *, axis: int = 0) -> Tensor:
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError(f"expand_dims: axis {axis} is out of range for a {x.ndim}-d array")
    return x.unsqueeze(axis)


def flip(x: Tensor, /, *, axis: Any = None) -> Tensor:
    return x.flip(_axes(axis, x.ndim))


def moveaxis(x: Tensor, source: Any, destination: Any, /) -> Tensor:
    return _F["movedim"](x, source, destination)


def permute_dims(x: Tensor, /, axes: Sequence[int]) -> Tensor:
    return x.permute(tuple(axes))


def repeat(x: Tensor, repeats: int | Tensor, /, *, axis: int | None = None) -> Tensor:
    return _F["repeat_interleave"](x, repeats, axis)


def reshape(x: Tensor, /, shape: Sequence[int], *, copy: builtins.bool | None = None) -> Tensor:
    shape = tuple(shape)
    if copy is False:
        try:
            return x.view(shape)
        except RuntimeError as error:
            raise ValueError(f"reshape(copy=False): {error}") from None
    out = x.reshape(shape)
    return out.clone() if copy and out.array.buffer is x.array.buffer else out


def roll(x: Tensor, /, shift: int | Sequence[int], *, axis: Any = None) -> Tensor:
    return _F["roll"](x, shift, axis)


def squeeze(x: Tensor, /, axis: int | Sequence[int]) -> Tensor:
    axes = _axes(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return x.reshape(tuple(d for i, d in enumerate(x.shape) if i not in axes))


def tile(x: Tensor, repetitions: Sequence[int], /) -> Tensor:
    return _F["tile"](x, tuple(repetitions))


def unstack(x: Tensor, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    return tuple(_F["unbind"](x, axis))


# --- utility -----------------------------------------------------------------------------
def all(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:  # noqa: A001
    return x.all(_axes(axis, x.ndim), keepdims)


def any(x: Tensor, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Tensor:  # noqa: A001
    return x.any(_axes(axis, x.ndim), keepdims)


def diff(
    x: Tensor, /, *, axis: int = -1, n: int = 1, prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:  # fmt: skip
    axis = normalize_axis(axis, x.ndim)
    parts = [p for p in (prepend, x, append) if p is not None]
    out = concat(parts, axis=axis) if len(parts) > 1 else x
    for _ in range(n):
        later = out[(slice(None),) * axis + (slice(1, None),)]
        earlier = out[(slice(None),) * axis + (slice(None, -1),)]
        out = later ^ earlier if out.dtype is dt.bool_ else later - earlier
    return out


# --- indexing ----------------------------------------------------------------------------
def take(x: Tensor, indices: Tensor, /, *, axis: int | None = None) -> Tensor:
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take: axis is required for a {x.ndim}-d array")
        axis = 0
    axis = normalize_axis(axis, x.ndim)
    if isinstance(indices, Tensor) and not indices.dtype.is_floating:
        # the standard's indices lie in [-n, n), counting from the end where negative (torch's
        # index_select refuses them), of any integer dtype
        indices = indices.astype(dt.int64)
        indices = _where(indices < 0, indices + x.shape[axis], indices)
    return _F["index_select"](x, axis, indices)


def take_along_axis(x: Tensor, indices: Tensor, /, *, axis: int = -1) -> Tensor:
    return _F["take_along_dim"](x, indices, axis)


# --- linear algebra in the main namespace -------------------------------------------------
def matmul(x1: Tensor, x2: Tensor, /) -> Tensor:
    """x1 @ x2; integer operands (which plugrad's matmul kernel does not take) as the sum of
    products over the contracted axis, in their promoted dtype (wrapping, as NumPy's)."""
    dtype = dt.promote(x1.dtype, x2.dtype)
    if dtype.is_floating or dtype is dt.bool_:
        return x1 @ x2
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("matmul: 0-d arrays are not matrices (use multiply)")
    a = x1.astype(dtype) if x1.ndim > 1 else x1.astype(dtype).reshape((1, -1))
    b = x2.astype(dtype) if x2.ndim > 1 else x2.astype(dtype).reshape((-1, 1))
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: shapes {x1.shape} and {x2.shape} do not line up")
    out = (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2).astype(dtype)  # (..., M, K, N) over K
    if x1.ndim == 1:
        out = out.reshape(out.shape[:-2] + out.shape[-1:])
    if x2.ndim == 1:
        out = out.reshape(out.shape[:-1])
    return out


def matrix_transpose(x: Tensor, /) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got shape {x.shape}")
    return x.mT


def tensordot(x1: Tensor, x2: Tensor, /, *, axes: Any = 2) -> Tensor:
    return _F["tensordot"](x1, x2, axes)


def vecdot(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """The dot product over `axis` (real arrays: no conjugation), the others broadcast."""
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot: sizes {x1.shape} and {x2.shape} differ along axis {axis}")
    product = x1 * x2
    return product.sum(axis).astype(product.dtype)  # (an integer sum alone would be int64)


__all__ = (
    "max", "min", "mean", "sum", "prod", "var", "std", "cumulative_sum", "cumulative_prod",
    "argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where", "sort", "argsort",
    "unique_all", "unique_counts", "unique_inverse", "unique_values", "broadcast_arrays",
    "broadcast_to", "concat", "stack", "expand_dims", "flip", "moveaxis", "permute_dims",
    "repeat", "reshape", "roll", "squeeze", "tile", "unstack", "all", "any", "diff", "take",
    "take_along_axis", "matmul", "matrix_transpose", "tensordot", "vecdot",
)  # fmt: skip
