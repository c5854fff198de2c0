"""The vector p-norm over dims, with torch's gradient (defined at zero: a zero vector's
2-norm has gradient 0, the inf-norm shares it among the largest |x|, NaN included)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..ndarray import NDArray
from ..shapes import normalize_axes
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class VectorNorm(Op):
    """(sum |x|^p)^(1/p) over axes; p = inf / -inf: max / min |x|; p = 0: the count of
    non-zero elements (gradient 0)."""

    saved = (0, -1)

    def __init__(self, p: float, axes: tuple[int, ...] | None, keepdim: bool) -> None:
        self.p, self.axes, self.keepdim = p, axes, keepdim

    @property
    def name(self) -> str:
        return "vector_norm"

    def compute(self, x: NDArray) -> NDArray:
        p, axes, keep = self.p, normalize_axes(self.axes, x.ndim), self.keepdim
        magnitude = x.unary("abs")
        if math.isinf(p):
            return magnitude.reduce("max" if p > 0 else "min", axes, keep)
        if p == 0:
            return x.scalar_op("ne", 0).astype(x.dtype).reduce("sum", axes, keep)
        if p == 1:
            return magnitude.reduce("sum", axes, keep)
        if p == 2:
            return x.binary("mul", x).reduce("sum", axes, keep).unary("sqrt")
        return magnitude.scalar_op("pow", p).reduce("sum", axes, keep).scalar_op("pow", 1.0 / p)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from ..autograd.tensor import where

        (x,) = node._inputs
        p = self.p
        axes = normalize_axes(self.axes, x.ndim)
        kept = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
        g, norm = g.reshape(kept), node.reshape(kept)
        if p == 0:
            return g._wrap(NDArray.full(x.shape, 0, x.dtype, x.device))
        if p == 1:
            return x.sign() * g
        if p == 2:
            return g * where(norm == 0, 0.0, x / norm)
        if math.isinf(p):
            magnitude = x.abs()
            hits = ((magnitude == norm) | (magnitude != magnitude)).astype(x.dtype)
            return x.sign() * (g / hits.sum(axes, keepdim=True) * hits)
        if p < 1:
            scaled = x.sign() * where(x == 0, 0.0, x.abs() ** (p - 1))
            return scaled * g * norm ** (1 - p)
        scaled = x.sign() * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
        return scaled * where(norm == 0, 0.0, g / norm ** (p - 1))
