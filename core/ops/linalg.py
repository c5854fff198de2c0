"""Matrix products."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ndarray import NDArray
from ..shapes import broadcast_shapes
from .base import Op, unbroadcast

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class MatMul(Op):
    """NumPy/torch matmul: batched, broadcasting, with the 1-D cases."""

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        return a.matmul(b)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        a, b = node._inputs
        # Lift 1-D operands (and the gradient) to matrices so one rule covers every case.
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = g2 @ b2.mT
        gb = a2.mT @ g2
        ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb
