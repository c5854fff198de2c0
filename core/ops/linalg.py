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

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = node._inputs
        # Lift 1-D operands (and the gradient) to matrices so one rule covers every case.
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = unbroadcast(g2 @ b2.mT, a2.shape).reshape(a.shape) if a.requires_grad else None
        gb = unbroadcast(a2.mT @ g2, b2.shape).reshape(b.shape) if b.requires_grad else None
        return ga, gb


class Linear(Op):
    """x (*, in) @ w (out, in).T + b (out,) as one node: one matmul with the bias added in
    place, and a backward of two matmuls and a sum (w's gradient comes out in w's layout)."""

    def compute(self, x: NDArray, w: NDArray, b: NDArray | None = None) -> NDArray:
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                f"(the input's last dimension must be {w.shape[-1] if w.ndim else '?'})"
            )
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias of shape {b.shape} must be ({w.shape[0]},)")
        out = x.matmul(w._view((w.shape[1], w.shape[0]), w.strides[::-1], w.offset))
        if b is not None:
            b._same_device(out)
            out.binary("add", b.astype(out.dtype)._broadcast_view(out.shape), out=out)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        x, w = node._inputs[:2]
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[1])
        # Inputs that need no gradient (the data of a first layer) cost nothing.
        grads = (
            (g2 @ w).reshape(x.shape) if x.requires_grad else None,
            g2.mT @ x2 if w.requires_grad else None,
        )
        if len(node._inputs) == 3:
            grads += (g2.sum(0) if node._inputs[2].requires_grad else None,)
        return grads
