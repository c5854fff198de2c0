"""Reductions and the numerically stable softmax family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ndarray import NDArray
from ..shapes import normalize_axes
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


class Sum(Op):
    saved = ()

    def __init__(self, axes: object, keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def compute(self, x: NDArray) -> NDArray:
        return x.reduce("sum", self.axes, self.keepdim)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        axes = normalize_axes(self.axes, x.ndim)
        return g.reshape(_kept_shape(x.shape, axes)).broadcast_to(x.shape)


class Extreme(Op):
    """amax / amin over axes; the gradient is shared equally among tied extremes (torch)."""

    saved = (0, -1)

    def __init__(self, op: str, axes: object, keepdim: bool) -> None:
        self.op, self.axes, self.keepdim = op, axes, keepdim

    @property
    def name(self) -> str:
        return "amax" if self.op == "max" else "amin"

    def compute(self, x: NDArray) -> NDArray:
        return x.reduce(self.op, self.axes, self.keepdim)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        axes = normalize_axes(self.axes, x.ndim)
        shape = _kept_shape(x.shape, axes)
        hits = (x == node.detach().reshape(shape)).astype(g.dtype)
        count = hits.sum(axis=axes, keepdim=True)
        return g.reshape(shape) * hits / count


class LogSumExp(Op):
    """log(sum(exp(x))) shifted by the max so that it never overflows."""

    saved = (0, -1)

    def __init__(self, axes: object, keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def compute(self, x: NDArray) -> NDArray:
        axes = normalize_axes(self.axes, x.ndim)
        if any(x.shape[a] == 0 for a in axes):  # log(0) = -inf, as NumPy and torch give
            return x.unary("exp").reduce("sum", axes, self.keepdim).unary("log")
        shift = _finite_max(x, axes)
        total = x.binary("sub", shift).unary("exp").reduce("sum", axes, True)
        out = total.unary("log").binary("add", shift)
        return out if self.keepdim else out.reshape(x.reduce("sum", axes, False).shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        axes = normalize_axes(self.axes, x.ndim)
        shape = _kept_shape(x.shape, axes)
        return g.reshape(shape) * (x - node.reshape(shape)).exp()


class Softmax(Op):
    saved = (-1,)

    def __init__(self, axis: int, log: bool) -> None:
        self.axis, self.log = axis, log

    @property
    def name(self) -> str:
        return "log_softmax" if self.log else "softmax"

    def compute(self, x: NDArray) -> NDArray:
        axes = normalize_axes(self.axis, x.ndim)
        if x.size == 0:
            return x.copy()
        # Shift by the max so exp never overflows. A row of infinities gives NaN, as in torch.
        shifted = x.binary("sub", x.reduce("max", axes, True) if axes else x)
        exp = shifted.unary("exp")
        total = exp.reduce("sum", axes, True)
        if self.log:
            return shifted.binary("sub", total.unary("log"))
        return exp.binary("div", total)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        axis = self.axis
        if self.log:
            return g - node.exp() * g.sum(axis=axis, keepdim=True)
        return node * (g - (g * node).sum(axis=axis, keepdim=True))


def _finite_max(x: NDArray, axes: tuple[int, ...]) -> NDArray:
    """The max over axes (kept), with infinities replaced by 0 so that shifting stays finite."""
    if x.ndim == 0 or not axes:
        high = x
    else:
        high = x.reduce("max", axes, True)
    finite = high.unary("abs").scalar_op("lt", float("inf"))  # False for inf and NaN
    return NDArray.where(finite, high, 0.0)


class Prod(Op):
    """Product over axes. The gradient of each element is the product of the others, which
    stays exact with zeros: one zero gets the product of the rest, two or more give 0."""

    saved = (0,)

    def __init__(self, axes: object, keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def compute(self, x: NDArray) -> NDArray:
        return x.reduce("prod", self.axes, self.keepdim)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..autograd.tensor import where

        (x,) = node._inputs
        axes = normalize_axes(self.axes, x.ndim)
        shape = _kept_shape(x.shape, axes)
        zero = x == 0
        zeros = zero.astype(x.dtype).sum(axis=axes, keepdim=True)
        nonzero_x = where(zero, 1.0, x)
        rest = nonzero_x.prod(axes, keepdim=True)  # the product of the non-zero elements
        others = where(zeros == 0, rest / nonzero_x, where(zero & (zeros == 1), rest, 0.0))
        return g.reshape(shape) * others
