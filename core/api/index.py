"""Selection and writes by position: index_select, take, take_along_dim, index_copy,
scatter, scatter_reduce, and the function or method forms torch has of Tensor's where,
masked_fill, index_add and scatter_add. Reads are gathers (their gradient scatters back);
writes resolve repeated positions deterministically (the last write wins)."""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from ..autograd.tensor import scatter_add as _scatter_add_function
from ..autograd.tensor import where as _where_function
from ..ndarray import NDArray
from ..ops.gather import Gather
from ..ops.scatter import REDUCTIONS, Scatter, ScatterReduce
from ..shapes import broadcast_shapes
from .common import axis_of, indices_of
from .registry import export


def _spread(index: Tensor, axis: int, shape: tuple[int, ...]) -> Tensor:
    """A 1-d (or 0-d) index laid along `axis` of `shape` (its length there), broadcast."""
    along = [1] * len(shape)
    along[axis] = index.numel()
    target = list(shape)
    target[axis] = index.numel()
    return index.reshape(along).broadcast_to(tuple(target))


def _list_index(fn: str, index: Any, like: Tensor) -> Tensor:
    index = indices_of(fn, "index", index, like)
    if index.ndim > 1:
        raise ValueError(f"{fn}(): index must be 0-d or 1-d, got shape {index.shape}")
    return index


@export
def index_select(input: Tensor, dim: Any, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of input at `index` (int64, 1-d) along dim: (3, 4) with dim 1 and 2
    indices -> (3, 2). The gradient adds back into those slices (index_add)."""
    index = _list_index("index_select", index, input)
    x = input.reshape(1) if input.ndim == 0 else input
    axis = axis_of("index_select", dim, x.ndim)
    out = Gather(axis)(x, _spread(index, axis, x.shape))
    return out.reshape(index.shape) if input.ndim == 0 else out


def _wrapped(index: Tensor, size: int) -> Tensor:
    """Negative indices counted from the end (take, take_along_dim), checked in range."""
    if index.numel():
        low, high = index.array.reduce("min").item(), index.array.reduce("max").item()
        if low < -size or high >= size:
            bad = low if low < -size else high
            raise IndexError(f"index {bad} is out of range for a dim of size {size}")
        if low < 0:
            return index + (index < 0).long() * size
    return index


@export
def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """input read as 1-d at `index` (any shape, negative from the end): index's shape."""
    index = indices_of("take", "index", index, input)
    flat = input.reshape(-1)
    chosen = _wrapped(index, flat.numel()).reshape(-1)
    if chosen.numel() and not flat.numel():
        raise IndexError("take(): index into an empty tensor")
    return Gather(0, checked=True)(flat, chosen).reshape(index.shape)


@export
def take_along_dim(input: Tensor, indices: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """input gathered at `indices` along dim, the other dims broadcast together (with dim
    None: both read as 1-d). Negative indices count from the end."""
    indices = indices_of("take_along_dim", "indices", indices, input)
    if dim is None:
        return take_along_dim(input.reshape(-1), indices.reshape(-1), 0)
    if input.ndim != indices.ndim:
        raise ValueError(
            f"take_along_dim(): input {input.shape} and indices {indices.shape} must have the "
            "same number of dims"
        )
    x = input.reshape(1) if input.ndim == 0 else input
    idx = indices.reshape(1) if indices.ndim == 0 else indices
    axis = axis_of("take_along_dim", dim, x.ndim)
    common = broadcast_shapes(
        *(tuple(1 if d == axis else s for d, s in enumerate(t.shape)) for t in (x, idx))
    )
    x = x.broadcast_to(common[:axis] + (x.shape[axis],) + common[axis + 1 :])
    idx = idx.broadcast_to(common[:axis] + (idx.shape[axis],) + common[axis + 1 :])
    if idx.numel() and not x.shape[axis]:
        raise IndexError(f"take_along_dim(): dim {dim} of input is empty")
    out = Gather(axis)(x, _wrapped(idx, x.shape[axis]))
    return out.reshape(()) if input.ndim == 0 else out


@export(function=False)
def where(input: Tensor, condition: Tensor, other: Any) -> Tensor:  # noqa: A002
    """`x.where(condition, other)`: x where condition is true, else other."""
    return _where_function(condition, input, other)


@export(method=False)
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    """input with `value` (a number or a 0-d tensor) where the bool mask is true."""
    return input.masked_fill(mask, value)


@export(method=False)
def index_add(
    input: Tensor,  # noqa: A002
    dim: Any,
    index: Tensor,
    source: Tensor,
    *,
    alpha: Any = 1,
) -> Tensor:
    """input with alpha * source's slices added at `index` along dim (repeats accumulate)."""
    return input.index_add(dim, index, source, alpha)


@export(function=False)
def scatter_add(input: Tensor, dim: Any, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """`x.scatter_add(dim, index, src)`: plugrad.scatter_add as a method."""
    return _scatter_add_function(input, dim, index, src)


@export(inplace_form=True)
def index_copy(input: Tensor, dim: Any, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """input with its slices at `index` along dim replaced by source's, in order (of repeated
    indices the last wins). source has input's shape but len(index) along dim."""
    index = _list_index("index_copy", index, input)
    x = input.reshape(1) if input.ndim == 0 else input
    axis = axis_of("index_copy", dim, x.ndim)
    src = source.reshape(1) if source.ndim == 0 else source
    expected = x.shape[:axis] + (index.numel(),) + x.shape[axis + 1 :]
    if src.shape != expected:
        raise ValueError(
            f"index_copy(): source must have shape {expected} (input's, with len(index) along "
            f"dim {dim}), got {source.shape}"
        )
    out = Scatter(axis)(x, _spread(index, axis, x.shape), src.astype(x.dtype))
    return out.reshape(()) if input.ndim == 0 else out


@export(inplace_form=True)
def scatter(
    input: Tensor,  # noqa: A002
    dim: Any,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    """input with src[i][j] (or a number, `value`) written at [i][index[i][j]] for dim 1; of
    repeated targets the last write wins. reduce='add' or 'multiply' combines instead."""
    if (src is None) == (value is None):
        raise TypeError("scatter(): pass exactly one of src (a tensor or number) and value")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    index = indices_of("scatter", "index", index, input)
    axis = axis_of("scatter", dim, input.ndim)
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
        if src is None:
            src = Tensor._wrap(NDArray.full(index.shape, value, input.dtype, input.device))
        how = "sum" if reduce == "add" else "prod"
        return ScatterReduce(axis, how, True)(input, index, src)
    if src is None:
        return Scatter(axis, value)(input, index)
    return Scatter(axis)(input, index, src)


@export(inplace_form=True)
def scatter_reduce(
    input: Tensor,  # noqa: A002
    dim: Any,
    index: Tensor,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """input with the src values addressed to each position reduced into it: 'sum', 'prod',
    'mean', 'amax', 'amin', with input's own value (include_self) or instead of it."""
    if reduce not in REDUCTIONS:
        raise ValueError(
            f"scatter_reduce(): reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}"
        )
    index = indices_of("scatter_reduce", "index", index, input)
    axis = axis_of("scatter_reduce", dim, input.ndim)
    return ScatterReduce(axis, reduce, bool(include_self))(input, index, src)
