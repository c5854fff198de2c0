"""scatter (writes) and scatter_reduce (sum, prod, mean, amax, amin), with torch's gradients.

Both are composed on the device (`segments.py`): each index entry's target position, then a
stable sort by target, so that repeated targets are resolved deterministically (the last
write wins) and reduced in one segmented pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import dtypes as dt
from ..ndarray import NDArray
from .base import Op
from .gather import Gather, ScatterAdd, check_index
from .segments import flat_targets, floor_divide, gather_1d, scatter_add_1d, segment_reduce, winners
from .shape import Pad

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_COMBINE = {"prod": "mul", "amax": "maximum", "amin": "minimum"}


def check_scatter(fn: str, x: NDArray, axis: int, index: NDArray, src: NDArray | None) -> None:
    """torch's rules: int64 index of x's ndim, in range along axis, no larger than x off the
    axis nor than src anywhere; src of x's dtype and ndim."""
    check_index(x.shape, axis, index)
    if src is None:
        return
    if src.dtype is not x.dtype:
        raise TypeError(
            f"{fn}(): src is {src.dtype.name} but self is {x.dtype.name}; they must match "
            "(cast src with .to(self.dtype))"
        )
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ValueError(
            f"{fn}(): index of shape {index.shape} must have src's number of dimensions and be "
            f"no larger than src {src.shape} on any dimension"
        )


def _window(src: NDArray, shape: tuple[int, ...]) -> NDArray:
    """The corner of src an index of `shape` reads, flattened (src may be larger)."""
    if src.shape != shape:
        src = src.slice_view(tuple(slice(0, n) for n in shape))
    return src.reshape(-1)


def fit_to(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """grad (an index-shaped corner) padded with zeros to `shape`."""
    if grad.shape == shape:
        return grad
    widths: list[int] = []
    for have, want in reversed(list(zip(grad.shape, shape))):
        widths += [0, want - have]
    return Pad(tuple(widths), 0.0)(grad)


class Scatter(Op):
    """x with src (or `value`) written at index along axis; of repeated targets the last
    write wins. Inputs (x, index, src) or (x, index). The gradient of x is zero where written;
    src's is g gathered at index (every write, overwritten ones too, as torch's)."""

    saved = (1,)

    def __init__(self, axis: int, value: object = None) -> None:
        self.axis, self.value = axis, value
        self.hit: NDArray | None = None

    @property
    def name(self) -> str:
        return "scatter"

    def compute(self, x: NDArray, index: NDArray, src: NDArray | None = None) -> NDArray:
        check_scatter("scatter", x, self.axis, index, src)
        x._same_device(index)
        writers = winners(flat_targets(index, self.axis, x.shape), x.size)
        self.hit = writers.scalar_op("gt", 0).reshape(x.shape)
        if src is None:
            written: NDArray = NDArray.full((), self.value, x.dtype, x.device)
        elif index.size == 0:
            return x.copy()
        else:
            position = NDArray.where(self.hit.reshape(-1), writers.scalar_op("sub", 1), 0)
            written = gather_1d(_window(src, index.shape), position).reshape(x.shape)
        return NDArray.where(self.hit, written, x)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        from ..autograd.tensor import where

        x, index = node._inputs[:2]
        to_x = where(g._wrap(self.hit), 0.0, g) if x.requires_grad else None  # type: ignore[arg-type]
        if len(node._inputs) == 2:
            return to_x, None
        src = node._inputs[2]
        to_src = None
        if src.requires_grad:
            to_src = fit_to(Gather(self.axis, checked=True)(g, index), src.shape)
        return to_x, None, to_src


class ScatterReduce(Op):
    """torch.scatter_reduce: the values of src addressing each position of x, reduced with
    x's own (include_self) or in place of it. Integer means round down, as torch's."""

    def __init__(self, axis: int, reduce: str, include_self: bool) -> None:
        self.axis, self.reduce, self.include_self = axis, reduce, include_self
        self.hit: NDArray | None = None

    @property
    def saved(self) -> tuple[int, ...] | None:  # type: ignore[override]
        return (1,) if self.reduce in ("sum", "mean") else None

    @property
    def name(self) -> str:
        return f"scatter_reduce({self.reduce})"

    def compute(self, x: NDArray, index: NDArray, src: NDArray) -> NDArray:
        if x.dtype is dt.bool_:
            raise TypeError("scatter_reduce() does not take bool tensors; cast with .long()")
        check_scatter("scatter_reduce", x, self.axis, index, src)
        x._same_device(index)
        size, device = x.size, x.device
        if index.size == 0:
            self.hit = NDArray.full(x.shape, False, dt.bool_, device)
            return x.copy()
        targets = flat_targets(index, self.axis, x.shape)
        values = _window(src, index.shape)
        ones = NDArray.full((), 1, dt.int64, device).broadcast_to(targets.shape)
        counts = scatter_add_1d(size, targets, ones)
        hit = counts.scalar_op("gt", 0)
        self.hit = hit.reshape(x.shape)
        own = x.reshape(-1)
        if self.reduce in ("sum", "mean"):
            result = scatter_add_1d(size, targets, values)
            if self.include_self:
                result = result.binary("add", own)
            if self.reduce == "mean":
                n = counts.scalar_op("add", 1) if self.include_self else counts
                n = NDArray.where(hit, n, 1)
                if x.dtype.is_floating:
                    result = result.binary("div", n.astype(x.dtype))
                else:
                    result = floor_divide(result, n)
        else:
            op = _COMBINE[self.reduce]
            longest = int(counts.reduce("max").item())
            reduced, last = segment_reduce(op, targets, values, size, longest)
            result = gather_1d(reduced, NDArray.where(hit, last.scalar_op("sub", 1), 0))
            if self.include_self:
                result = result.binary(op, own)
        return NDArray.where(hit, result, own).reshape(x.shape)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, None, Tensor | None]:
        from ..autograd.tensor import where

        x, index, src = node._inputs
        axis, reduce, include_self = self.axis, self.reduce, self.include_self
        hit = g._wrap(self.hit)  # type: ignore[arg-type]
        corner = src if src.shape == index.shape else src[tuple(slice(0, n) for n in index.shape)]
        if reduce == "sum":
            to_x, to_src = g, Gather(axis, checked=True)(g, index)
        elif reduce == "mean":
            ones = g._wrap(NDArray.full(index.shape, 1.0, g.dtype, g.device))
            base = g._wrap(NDArray.full(x.shape, 1.0 if include_self else 0.0, g.dtype, g.device))
            n = base + ScatterAdd(axis, x.shape, checked=True)(index, ones)
            share = g / where(n == 0, 1.0, n)
            to_x, to_src = share, Gather(axis, checked=True)(share, index)
        elif reduce in ("amax", "amin"):  # ties share the gradient evenly, as torch's
            value = Gather(axis, checked=True)(node, index)
            own_hit = (x == node).astype(g.dtype)
            if not include_self:
                own_hit = where(hit, 0.0, own_hit)
            src_hit = (corner == value).astype(g.dtype)
            n = own_hit + ScatterAdd(axis, x.shape, checked=True)(index, src_hit)
            share = g / n
            to_x, to_src = own_hit * share, src_hit * Gather(axis, checked=True)(share, index)
        else:
            to_x, to_src = self._prod_gradient(g, node, corner)
        if not include_self:
            to_x = where(hit, 0.0, to_x)
        return to_x, None, fit_to(to_src, src.shape)

    def _prod_gradient(self, g: Tensor, node: Tensor, corner: Tensor) -> tuple[Tensor, Tensor]:
        """The product of the others, exact with zeros (torch's formula): a zero of x or a
        single zero among a position's src values takes the product of the rest."""
        from ..autograd.tensor import where

        x, index, _ = node._inputs
        axis, include_self = self.axis, self.include_self
        gather = Gather(axis, checked=True)
        masked_x = where(x == 0, 1.0, x)
        to_x = g * ScatterReduce(axis, "prod", include_self)(masked_x, index, corner) / masked_x
        zero = corner == 0
        zeros_there = ScatterAdd(axis, x.shape, checked=True)(index, zero.astype(g.dtype))
        single = zero & (gather(zeros_there, index) == 1)
        without = ScatterReduce(axis, "prod", include_self)(x, index, where(single, 1.0, corner))
        to_src = where(
            single, gather(g * without, index), gather(g * node, index) / where(zero, 1.0, corner)
        )
        return to_x, to_src
