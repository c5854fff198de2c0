"""Order: sort, argsort, topk, kthvalue, with torch's arguments and named results.

Every sort is stable (NaN largest: last ascending, first descending); `stable=` is accepted
for torch's signature and changes nothing. Values are x gathered at the sorted positions, so
their gradient reaches exactly those elements.
"""

from __future__ import annotations

from typing import Any

from .. import arguments, return_types
from ..autograd.tensor import Tensor
from ..ops.gather import Gather
from ..ops.sort import SortValues, sort_arrays
from .common import axis_of
from .registry import export


@export
def sort(
    input: Tensor,  # noqa: A002
    dim: Any = -1,
    descending: bool = False,
    *,
    stable: bool = False,
) -> Any:
    """return_types.sort(values, indices) along dim; indices are int64 positions in input."""
    axis = axis_of("sort", dim, input.ndim)
    x = input.reshape(1) if input.ndim == 0 else input
    op = SortValues(0 if input.ndim == 0 else axis, bool(descending))
    values = op(x)
    indices = Tensor._wrap(op.indices)  # type: ignore[arg-type]
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.sort(values, indices)


@export
def argsort(
    input: Tensor,  # noqa: A002
    dim: Any = -1,
    descending: bool = False,
    *,
    stable: bool = False,
) -> Tensor:
    """The int64 positions that sort input along dim (stable)."""
    axis = axis_of("argsort", dim, input.ndim)
    if input.ndim == 0:
        return Tensor._wrap(sort_arrays(input.array.reshape(1), 0)[1].reshape(()))
    return Tensor._wrap(sort_arrays(input.array, axis, bool(descending))[1])


def _first(
    fn: str,
    input: Tensor,
    k: Any,
    dim: Any,
    descending: bool,
    result_type: type,  # noqa: A002
) -> Any:
    """result_type(values, indices) of the first k of input sorted along dim."""
    axis = axis_of(fn, -1 if dim is None else dim, input.ndim)
    x = input.reshape(1) if input.ndim == 0 else input
    axis = 0 if input.ndim == 0 else axis
    n = x.shape[axis]
    k = arguments.integer(fn, "k", k)
    if not 0 <= k <= n:
        raise IndexError(f"{fn}(): k ({k}) is out of range for a dim of size {n}")
    _, order = sort_arrays(x.array, axis, descending)
    chosen = Tensor._wrap(order.slice_view((slice(None),) * axis + (slice(0, k),)))
    values = Gather(axis, checked=True)(x, chosen)
    if input.ndim == 0:
        values, chosen = values.reshape(()), chosen.reshape(())
    return result_type(values, chosen)


@export
def topk(
    input: Tensor,  # noqa: A002
    k: Any,
    dim: Any = None,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> Any:
    """return_types.topk(values, indices): the k largest (or smallest) along dim (the last by
    default), always in sorted order; of equal values the earlier come first."""
    return _first("topk", input, k, dim, bool(largest), return_types.topk)


@export
def kthvalue(
    input: Tensor,  # noqa: A002
    k: Any,
    dim: Any = None,
    keepdim: bool = False,
) -> Any:
    """return_types.kthvalue(values, indices): the k-th smallest (k from 1) along dim (the
    last by default); NaN counts as the largest value."""
    axis = axis_of("kthvalue", -1 if dim is None else dim, input.ndim)
    n = 1 if input.ndim == 0 else input.shape[axis]
    k = arguments.integer("kthvalue", "k", k)
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): k ({k}) must lie in [1, {n}], the size of dim {dim}")
    smallest = _first("kthvalue", input, k, dim, False, return_types.kthvalue)
    if input.ndim == 0:
        return smallest
    pick = (slice(None),) * axis + (slice(k - 1, k),)
    values, indices = smallest.values[pick], smallest.indices[pick]
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return return_types.kthvalue(values, indices)
