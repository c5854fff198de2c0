"""Sorting along an axis (the protocol's stable `sort` kernel) and its gradient.

The values of a sort (and of topk, kthvalue, median, quantile, which read sorted positions)
are x gathered at the sorted positions, so their gradient is scatter_add at those positions,
as in torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import dtypes as dt
from ..ndarray import NDArray
from .base import Op
from .gather import ScatterAdd

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def sort_arrays(x: NDArray, axis: int, descending: bool = False) -> tuple[NDArray, NDArray]:
    """(values, int64 positions along axis) of x (at least 1-D) sorted stably along axis: NaN
    is the largest value, equal values keep their order (descending too)."""
    values = NDArray.empty(x.shape, x.dtype, x.device)
    indices = NDArray.empty(x.shape, dt.int64, x.device)
    x.backend.sort(x.strided(), axis, bool(descending), values.strided(), indices.strided())
    return values, indices


class SortValues(Op):
    """The sorted values of x along an axis; `indices` holds the positions once computed."""

    saved = ()  # the gradient reads the positions only

    def __init__(self, axis: int, descending: bool) -> None:
        self.axis, self.descending = axis, descending
        self.indices: NDArray | None = None

    @property
    def name(self) -> str:
        return "sort"

    def compute(self, x: NDArray) -> NDArray:
        values, self.indices = sort_arrays(x, self.axis, self.descending)
        return values

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        positions = g._wrap(self.indices)  # type: ignore[arg-type]
        return ScatterAdd(self.axis, x.shape, checked=True)(positions, g)


class MedianAll(Op):
    """The lower median of all elements (NaN if there is one; NaN for none). Its gradient is
    shared evenly by the elements equal to it (the NaNs when it is NaN), as torch's."""

    saved = (0, -1)

    @property
    def name(self) -> str:
        return "median"

    def compute(self, x: NDArray) -> NDArray:
        n = x.size
        if n == 0:
            if not x.dtype.is_floating:
                raise RuntimeError(f"median() of an empty {x.dtype.name} tensor has no value")
            return NDArray.full((), float("nan"), x.dtype, x.device)
        values, _ = sort_arrays(x.reshape(-1), 0)
        if x.dtype.is_floating:  # NaN sorts last: the median of a row with one is NaN
            last = values.slice_view((slice(n - 1, n),))
            position = NDArray.where(last.binary("ne", last), n - 1, (n - 1) // 2)
        else:
            position = NDArray.full((1,), (n - 1) // 2, dt.int64, x.device)
        out = NDArray.empty((1,), x.dtype, x.device)
        x.backend.gather(values.strided(), 0, position.strided(), out.strided())
        return out.reshape(())

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        hits = (x == node) | ((x != x) & (node != node))
        hits = hits.astype(g.dtype)
        return g * hits / hits.sum()
