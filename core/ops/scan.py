"""Cumulative ops along an axis (the protocol's `scan` kernel) and their gradients, as torch's:
cumsum (reverse cumsum), cumprod (exact with zeros, like prod), cummax / cummin (to the
position of each running extreme) and logcumsumexp (in log space, split by the sign of the
gradient). Every gradient is built from differentiable ops, so higher orders work."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import dtypes as dt
from ..ndarray import NDArray
from .base import Op
from .gather import ScatterAdd

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def scan_array(op: str, x: NDArray, axis: int, indices: bool = False):
    """The inclusive scan of x (at least 1-D) along axis; with `indices` (max and min) also
    the int64 positions of the running extremes."""
    out = NDArray.empty(x.shape, x.dtype, x.device)
    positions = NDArray.empty(x.shape, dt.int64, x.device) if indices else None
    x.backend.scan(
        op, x.strided(), axis, out.strided(), None if positions is None else positions.strided()
    )
    return (out, positions) if indices else out


def reverse_cumsum(g: Tensor, axis: int) -> Tensor:
    """sum over j >= i of g[j] along axis: cumsum's adjoint."""
    return CumSum(axis)(g.flip(axis)).flip(axis)


class CumSum(Op):
    saved = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    @property
    def name(self) -> str:
        return "cumsum"

    def compute(self, x: NDArray) -> NDArray:
        return scan_array("sum", x, self.axis)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return reverse_cumsum(g, self.axis)


class CumProd(Op):
    """out[i] = x[0] * ... * x[i]. d out[i] / d x[k] is the product of the others up to i:
    out[i] / x[k] before the first zero, the product around it at the first zero (x with
    that zero taken as 1), and 0 after it."""

    saved = (0, -1)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    @property
    def name(self) -> str:
        return "cumprod"

    def compute(self, x: NDArray) -> NDArray:
        return scan_array("prod", x, self.axis)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..autograd.tensor import where

        (x,) = node._inputs
        axis = self.axis
        zero = x == 0
        zeros_so_far = CumSum(axis)(zero.astype(dt.int64))
        before = zeros_so_far == 0
        first_zero = zero & (zeros_so_far == 1)
        safe_x = where(zero, 1.0, x)
        before_grad = reverse_cumsum(g * node, axis) / safe_x
        around_zero = CumProd(axis)(where(first_zero, 1.0, x))
        at_zero_grad = reverse_cumsum(g * around_zero, axis)
        return where(before, before_grad, where(first_zero, at_zero_grad, 0.0))


class CumExtreme(Op):
    """cummax / cummin values; `indices` holds the running extremes' positions (torch's rule:
    the last of equal values, the latest NaN). The gradient goes to those positions."""

    saved = ()

    def __init__(self, op: str, axis: int) -> None:
        self.op, self.axis = op, axis
        self.indices: NDArray | None = None

    @property
    def name(self) -> str:
        return "cum" + self.op

    def compute(self, x: NDArray) -> NDArray:
        values, self.indices = scan_array(self.op, x, self.axis, indices=True)
        return values

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        positions = g._wrap(self.indices)  # type: ignore[arg-type]
        return ScatterAdd(self.axis, x.shape, checked=True)(positions, g)


class LogCumSumExp(Op):
    """log(cumsum(exp(x))) by a logaddexp scan (no overflow). Its gradient sums
    g[i] * exp(x[k] - out[i]) over i >= k in log space, positive and negative parts of g
    apart, with the dtype's lowest finite value standing for log(0) (torch's formula)."""

    saved = (0, -1)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    @property
    def name(self) -> str:
        return "logcumsumexp"

    def compute(self, x: NDArray) -> NDArray:
        return scan_array("logaddexp", x, self.axis)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..autograd.tensor import where

        (x,) = node._inputs
        axis = self.axis
        lowest = float(np.finfo(g.dtype.numpy).min)
        log_abs = g.abs().log()
        positive = where(g > 0, log_abs, lowest)
        negative = where(g < 0, log_abs, lowest)

        def reverse(t: Tensor) -> Tensor:
            return LogCumSumExp(axis)(t.flip(axis)).flip(axis)

        return (reverse(positive - node) + x).exp() - (reverse(negative - node) + x).exp()
