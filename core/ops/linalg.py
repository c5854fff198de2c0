"""Matrix products."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from ..shapes import broadcast_shapes
from . import base
from .base import Op, unbroadcast

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class MatMul(Op):
    """NumPy/torch matmul: batched, broadcasting, with the 1-D cases."""

    saved = (0, 1)

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

    saved = (0, 1)

    def compute(self, x: NDArray, w: NDArray, b: NDArray | None = None) -> NDArray:
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                f"(the input's last dimension must be {w.shape[-1] if w.ndim else '?'})"
            )
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias of shape {b.shape} must be ({w.shape[0]},)")
        out = x.matmul(_transposed(w))
        if b is not None:
            b._same_device(out)
            out.binary("add", b.astype(out.dtype)._broadcast_view(out.shape), out=out)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        x, w = node._inputs[:2]
        needs = [t.requires_grad for t in node._inputs]
        if is_grad_enabled():  # create_graph: the gradient is itself recorded
            g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
            x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[1])
            grads = (
                (g2 @ w).reshape(x.shape) if needs[0] else None,
                g2.mT @ x2 if needs[1] else None,
                g2.sum(0) if len(needs) == 3 and needs[2] else None,
            )
        else:  # the usual backward: the same products on arrays, without graph bookkeeping
            wrap = base._tensor_class._wrap
            g2 = g.array if g.ndim == 2 else g.array.reshape((-1, w.shape[0]))
            x2 = x.array if x.ndim == 2 else x.array.reshape((-1, w.shape[1]))
            grads = (
                wrap(g2.matmul(w.array).reshape(x.shape)) if needs[0] else None,
                wrap(_transposed(g2).matmul(x2)) if needs[1] else None,
                wrap(g2.reduce("sum", (0,))) if len(needs) == 3 and needs[2] else None,
            )
        return grads[: len(needs)]


def _transposed(m: NDArray) -> NDArray:
    """The transpose of a matrix, as a view."""
    return m._view((m.shape[1], m.shape[0]), (m.strides[1], m.strides[0]), m.offset)
