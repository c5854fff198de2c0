"""Selection by value: unique, searchsorted, bucketize, bincount, nonzero, argwhere,
masked_select. Each runs on the tensor's device (sort, scan, gather, scatter_add); only a
count that sizes the result comes back to the host."""

from __future__ import annotations

from typing import Any

from .. import arguments
from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..ndarray import NDArray
from ..ops.gather import Gather
from ..ops.scan import scan_array
from ..ops.segments import (
    arange,
    gather_1d,
    run_starts,
    scatter_add_1d,
    true_positions,
)
from ..ops.sort import sort_arrays
from ..shapes import broadcast_shapes, prod
from .common import axis_of, indices_of, tensor_of
from .registry import export


@export
def unique(
    input: Tensor,  # noqa: A002
    sorted: bool = True,  # noqa: A002
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: Any = None,
) -> Any:
    """The distinct values in ascending order (sorted=False gives the same order), or with
    `dim` the distinct slices along it; with return_inverse each element's (slice's) position
    among them, with return_counts how often each occurs. NaNs are each distinct, as torch's."""
    if dim is None:
        keys, order = sort_arrays(input.array.reshape(-1), 0)
        starts = run_starts(keys)
        values = Tensor._wrap(gather_1d(keys, true_positions(starts)))
        inverse_shape = input.shape
    else:
        axis = axis_of("unique", dim, input.ndim)
        values, order, starts = _unique_slices(input, axis)
        inverse_shape = (input.shape[axis] if input.ndim else 1,)
    extras = []
    if return_inverse or return_counts:
        groups = scan_array("sum", starts.astype(dt.int64), 0).scalar_op("sub", 1)
        if return_inverse:
            inverse = scatter_add_1d(order.size, order, groups).reshape(inverse_shape)
            extras.append(Tensor._wrap(inverse))
        if return_counts:
            count = values.numel() if dim is None else values.shape[axis if input.ndim else 0]
            ones = NDArray.full((), 1, dt.int64, input.device).broadcast_to(groups.shape)
            extras.append(Tensor._wrap(scatter_add_1d(count, groups, ones)))
    return (values, *extras) if extras else values


def _unique_slices(x: Tensor, axis: int) -> tuple[Tensor, NDArray, NDArray]:
    """(the distinct slices along axis, the order that sorts the slices, where runs start)."""
    if x.ndim == 0:
        x = x.reshape(1)
    moved = x.array.permute([axis] + [d for d in range(x.ndim) if d != axis])
    m = moved.shape[0]
    rows = moved.reshape(m, -1).compact()
    width = rows.shape[1]
    order = arange(m, x.device)
    for column in reversed(range(width)):  # least significant column first: a stable radix
        keys = gather_1d(rows.slice_view((slice(None), column)).compact(), order)
        order = gather_1d(order, sort_arrays(keys, 0)[1])
    ranked = NDArray.empty(rows.shape, rows.dtype, x.device)
    if rows.size:
        spread = order.reshape(m, 1).broadcast_to(rows.shape)
        rows.backend.gather(rows.strided(), 0, spread.strided(), ranked.strided())
    starts = NDArray.full((m,), True, dt.bool_, x.device)
    if m > 1 and width:
        later, earlier = ranked.slice_view((slice(1, m),)), ranked.slice_view((slice(0, m - 1),))
        differs = later.binary("ne", earlier).reduce("max", (1,))
        starts.slice_view((slice(1, m),)).assign_(differs)
    elif m > 1:  # slices without elements are all equal
        starts.slice_view((slice(1, m),)).fill_(False)
    firsts = true_positions(starts)
    kept = NDArray.empty((firsts.size, width), rows.dtype, x.device)
    if kept.size:
        spread = firsts.reshape(-1, 1).broadcast_to(kept.shape)
        rows.backend.gather(ranked.strided(), 0, spread.strided(), kept.strided())
    rest = tuple(s for d, s in enumerate(x.shape) if d != axis)
    slices = Tensor._wrap(kept.reshape((firsts.size,) + rest))
    back = list(range(1, x.ndim))
    back.insert(axis, 0)
    return slices.permute(back).contiguous(), order, starts


@export(method=False)
def searchsorted(
    sorted_sequence: Tensor,
    values: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """For each value, the index in the (last dim of the) ascending sorted_sequence where it
    would be inserted to keep it sorted: before equal elements, or after them with
    right=True / side='right'. A 1-d sequence serves values of any shape; an n-d one matches
    values on every dim but the last. Values compare as in sort (NaN above everything)."""
    seq = tensor_of("searchsorted", "sorted_sequence", sorted_sequence)
    if not isinstance(values, Tensor):
        values = Tensor(values, device=seq.device)
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted(): side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted(): side='left' and right=True contradict each other")
        right = side == "right"
    if sorter is not None:
        seq = seq.gather(-1, indices_of("searchsorted", "sorter", sorter, seq))
    if seq.ndim == 0:
        raise ValueError("searchsorted(): sorted_sequence must have at least one dim")
    if seq.ndim > 1 and seq.shape[:-1] != values.shape[:-1]:
        raise ValueError(
            f"searchsorted(): sorted_sequence {seq.shape} and values {values.shape} must match "
            "on every dim but the last (or the sequence be 1-d)"
        )
    dtype = dt.promote(seq.dtype, values.dtype)
    a, v = seq.array.astype(dtype), values.array.astype(dtype)
    m = a.shape[-1]
    rows = prod(a.shape[:-1])
    a2, v2 = a.reshape(rows, m), v.reshape(rows, -1) if values.ndim else v.reshape(1, 1)
    result = _insertion_points(a2, v2, bool(right)).reshape(values.shape)
    return Tensor._wrap(result.astype(_index_dtype("searchsorted", out_int32)))


def _insertion_points(seq: NDArray, values: NDArray, right: bool) -> NDArray:
    """(rows, n) insertion points of values (rows, n) into seq (rows, m): one stable sort of
    each row of both together, values placed before equal sequence elements (after, for
    right); a value's point is the number of sequence elements sorted before it."""
    rows, m = seq.shape
    n = values.shape[1]
    device = seq.device
    if rows * n == 0:
        return NDArray.full((rows, n), 0, dt.int64, device)
    both = NDArray.empty((rows, m + n), seq.dtype, device)
    first, second = (seq, values) if right else (values, seq)
    split = first.shape[1]
    both.slice_view((slice(None), slice(0, split))).assign_(first)
    both.slice_view((slice(None), slice(split, m + n))).assign_(second)
    _, order = sort_arrays(both, 1)
    is_value = order.scalar_op("ge", m) if right else order.scalar_op("lt", n)
    value_rank = scan_array("sum", is_value.astype(dt.int64), 1)  # 1 + values before, inclusive
    position = arange(m + n, device).reshape(1, m + n)
    points = position.binary("sub", value_rank).scalar_op("add", 1)
    which = order.scalar_op("sub", m) if right else order
    slot = NDArray.where(is_value, which, n)  # sequence elements go to a spare column
    out = NDArray.full((rows, n + 1), 0, dt.int64, device)
    seq.backend.scatter_add(out.strided(), 1, slot.strided(), points.strided())
    return out.slice_view((slice(None), slice(0, n)))


@export(method=False)
def bucketize(
    input: Any,  # noqa: A002
    boundaries: Tensor,
    *,
    out_int32: bool = False,
    right: bool = False,
) -> Tensor:
    """The bucket of each element among 1-d ascending boundaries: i with
    boundaries[i-1] < x <= boundaries[i] (or boundaries[i-1] <= x < boundaries[i], right)."""
    boundaries = tensor_of("bucketize", "boundaries", boundaries)
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize(): boundaries must be 1-d, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _index_dtype(fn: str, out_int32: bool) -> dt.DType:
    if not out_int32:
        return dt.int64
    int32 = dt.ALL.get("int32")
    if int32 is None:
        raise TypeError(f"{fn}(): out_int32=True needs int32, which this plugrad lacks")
    return int32


@export
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value 0..max occurs in a 1-d non-negative int64 input (at least
    `minlength` bins), or the sum of `weights` there (float weights keep their dtype, others
    give float64, as torch)."""
    if input.ndim != 1 or input.dtype is not dt.int64:
        raise ValueError(
            f"bincount(): only 1-d non-negative int64 inputs, got shape {input.shape} of "
            f"{input.dtype.name}"
        )
    minlength = arguments.integer("bincount", "minlength", minlength, minimum=0)
    values = input.array
    bins = minlength
    if values.size:
        low, high = values.reduce("min").item(), values.reduce("max").item()
        if low < 0:
            raise ValueError(f"bincount(): only non-negative inputs, got {low}")
        bins = max(bins, int(high) + 1)
    if weights is None:
        counted = NDArray.full((), 1, dt.int64, input.device).broadcast_to(values.shape)
    else:
        weights = tensor_of("bincount", "weights", weights)
        if weights.shape != input.shape:
            raise ValueError(
                f"bincount(): weights {weights.shape} must have the input's shape {input.shape}"
            )
        kind = weights.dtype if weights.dtype.is_floating else dt.float64
        counted = weights.array.astype(kind)
    return Tensor._wrap(scatter_add_1d(bins, values, counted))


@export
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """int64 (count, ndim): the coordinates of the non-zero elements in row-major order; with
    as_tuple, one 1-d tensor per dim (a 0-d input counts as 1-d)."""
    x = input.reshape(1) if as_tuple and input.ndim == 0 else input
    flat = x.array.reshape(-1)
    hits = true_positions(flat if flat.dtype is dt.bool_ else flat.scalar_op("ne", 0))
    coordinates = NDArray.empty((hits.size, x.ndim), dt.int64, input.device)
    for d in range(x.ndim):
        grid = arange(x.shape[d], input.device).reshape(
            tuple(x.shape[d] if e == d else 1 for e in range(x.ndim))
        )
        column = gather_1d(grid.broadcast_to(x.shape).compact().reshape(-1), hits)
        coordinates.slice_view((slice(None), d)).assign_(column)
    result = Tensor._wrap(coordinates)
    if as_tuple:
        return tuple(Tensor._wrap(coordinates.slice_view((slice(None), d)).compact())
                     for d in range(x.ndim))  # fmt: skip
    return result


@export
def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """nonzero(input): the (count, ndim) coordinates of the non-zero elements."""
    return nonzero(input)


@export
def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The 1-d elements of input where the bool mask (broadcast together) is true, in
    row-major order; the gradient reaches those elements."""
    mask = tensor_of("masked_select", "mask", mask, dt.bool_)
    shape = broadcast_shapes(input.shape, mask.shape)
    chosen = true_positions(mask.array.broadcast_to(shape).compact().reshape(-1))
    flat = input.broadcast_to(shape).reshape(-1)
    return Gather(0, checked=True)(flat, Tensor._wrap(chosen))
