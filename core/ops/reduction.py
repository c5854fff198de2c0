"""Reductions and the numerically stable softmax family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import arguments
from .. import dtypes as dt
from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from ..shapes import normalize_axes, normalize_axis
from . import fused
from .base import Op
from .gather import Gather

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
    """amax / amin over axes; the gradient is shared equally among tied extremes (torch).

    A NaN is the extreme: amax's gradient is then NaN everywhere in its row (torch's amax);
    with `nan_takes_gradient` (torch's max() and min() without a dim) the NaNs share it."""

    saved = (0, -1)

    def __init__(
        self, op: str, axes: object, keepdim: bool, nan_takes_gradient: bool = False
    ) -> None:
        self.op, self.axes, self.keepdim = op, axes, keepdim
        self.nan_takes_gradient = nan_takes_gradient

    @property
    def name(self) -> str:
        return "amax" if self.op == "max" else "amin"

    def compute(self, x: NDArray) -> NDArray:
        return x.reduce(self.op, self.axes, self.keepdim)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        axes = normalize_axes(self.axes, x.ndim)
        shape = _kept_shape(x.shape, axes)
        extreme = node.detach().reshape(shape)
        hits = x == extreme
        if self.nan_takes_gradient:
            hits = hits | ((x != x) & (extreme != extreme))
        hits = hits.astype(g.dtype)
        count = hits.sum(axis=axes, keepdim=True)
        return g.reshape(shape) * hits / count


class SqrtOfVariance(Op):
    """std from var: sqrt, whose gradient is 0 where the result is 0, as torch's std's (a
    constant row has std 0 and gradient 0, not 0 * inf = NaN)."""

    saved = (-1,)

    @property
    def name(self) -> str:
        return "std"

    def compute(self, variance: NDArray) -> NDArray:
        return variance.unary("sqrt")

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..autograd.tensor import where

        return where(node == 0, 0.0, g / (node * 2.0))


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
        axes = normalize_axes(self.axis, x.ndim)  # () for a 0-d x
        return fused.softmax(x, axes[0] if axes else 0, self.log)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        axis = self.axis
        if is_grad_enabled():  # create_graph: stay differentiable (second derivatives)
            if self.log:
                return g - node.exp() * g.sum(axis=axis, keepdim=True)
            return node * (g - (g * node).sum(axis=axis, keepdim=True))
        axes = normalize_axes(axis, node.ndim)
        grad = fused.softmax_backward(node.array, g.array, axes[0] if axes else 0, self.log)
        return node._wrap(grad)


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


def max_or_min(x: Tensor, op: str, dim: object, keepdim: bool) -> object:
    """Tensor.max / min as torch: with no dim the extreme value, whose gradient a NaN takes
    (else ties share it); with an int dim (values, indices), the whole gradient going to the
    returned index (the first of tied extremes, or the first NaN)."""
    from ..autograd.tensor import MinMaxResult

    if dim is None or arguments.as_int(dim) is None:
        dims = arguments.dims(op, dim, x.ndim)
        return Extreme(op, dims, keepdim, nan_takes_gradient=dim is None)(x)
    axis = normalize_axis(dim, x.ndim)  # type: ignore[arg-type]
    wrap = x._wrap
    if x.ndim == 0:
        return MinMaxResult(
            Extreme(op, (), keepdim)(x), wrap(NDArray.full((), 0, dt.int64, x.device))
        )
    indices = wrap(x.array.arg_reduce("arg" + op, axis, True))
    values = Gather(axis, checked=True)(x, indices)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return MinMaxResult(values, indices)
