"""The LSTM cell's gates as one node: the recurrence's elementwise work, which as separate ops
costs a dozen graph nodes per time step (four gate slices, three sigmoids, two tanhs, the
products), done on arrays in one forward and one backward.

With pre = projected + recurrent split into (i, f, g, o) of H columns each,
i, f, o = sigmoid(.), g = tanh(.), c = f * c_prev + i * g, h = o * tanh(c). Backward, from
dh and dc (the gradients of h and c):

    dc' = dc + dh * o * (1 - tanh(c)^2)
    d pre = [dc' * g * i(1-i), dc' * c_prev * f(1-f), dc' * i * (1-g^2), dh * tanh(c) * o(1-o)]
    d c_prev = dc' * f
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def _columns(x: NDArray, hidden: int) -> list[NDArray]:
    """The four (N, H) gate blocks of x (N, 4H), as compact copies."""
    return [x.slice_view((slice(None), slice(j * hidden, (j + 1) * hidden))).compact()
            for j in range(4)]  # fmt: skip


class LSTMGates(Op):
    """(projected (N, 4H), recurrent (N, 4H), c_prev (N, H)) -> (2, N, H): h and c stacked,
    so that each is a compact view of the one output."""

    saved = (2,)  # c_prev; the gates it saves itself

    def __init__(self) -> None:
        self.gates: list[NDArray] | None = None  # i, f, g, o after their activations
        self.tanh_c: NDArray | None = None

    @property
    def name(self) -> str:
        return "lstm_gates"

    def compute(self, projected: NDArray, recurrent: NDArray, c_prev: NDArray) -> NDArray:
        n, hidden = c_prev.shape
        pre = projected.binary("add", recurrent)
        i, f, g, o = _columns(pre, hidden)
        i, f, o, g = i.unary("sigmoid"), f.unary("sigmoid"), o.unary("sigmoid"), g.unary("tanh")
        out = NDArray.empty((2, n, hidden), pre.dtype, pre.device)
        h_view, c_view = out.slice_view((0,)), out.slice_view((1,))
        c = f.binary("mul", c_prev)
        c.binary("add", i.binary("mul", g), out=c)
        c_view.assign_(c)
        tanh_c = c.unary("tanh")
        h_view.assign_(o.binary("mul", tanh_c))
        self.gates, self.tanh_c = [i, f, g, o], tanh_c
        return out

    def gradient(self, grad: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        projected, recurrent, c_prev = node._inputs
        if is_grad_enabled() or self.gates is None:
            return self._differentiable(grad, projected, recurrent, c_prev)
        from ..autograd.tensor import Tensor as TensorClass

        wrap = TensorClass._wrap
        ga = grad.array
        if ga.dtype is not c_prev.dtype:
            ga = ga.astype(c_prev.dtype)
        dh, dc = ga.slice_view((0,)), ga.slice_view((1,))
        i, f, g, o = self.gates
        tanh_c = self.tanh_c
        one_minus = tanh_c.binary("mul", tanh_c).scalar_op("sub", 1.0, reflected=True)
        dc_total = dh.binary("mul", o)
        dc_total.binary("mul", one_minus, out=dc_total)
        dc_total.binary("add", dc, out=dc_total)
        n, hidden = tanh_c.shape
        d_pre = NDArray.empty((n, 4 * hidden), tanh_c.dtype, tanh_c.device)
        blocks = [d_pre.slice_view((slice(None), slice(j * hidden, (j + 1) * hidden)))
                  for j in range(4)]  # fmt: skip

        def sigmoid_slope(s: NDArray) -> NDArray:  # s (1 - s)
            return s.binary("mul", s.scalar_op("sub", 1.0, reflected=True))

        blocks[0].assign_(dc_total.binary("mul", g).binary("mul", sigmoid_slope(i)))
        blocks[1].assign_(dc_total.binary("mul", c_prev.array).binary("mul", sigmoid_slope(f)))
        tanh_slope = g.binary("mul", g).scalar_op("sub", 1.0, reflected=True)
        blocks[2].assign_(dc_total.binary("mul", i).binary("mul", tanh_slope))
        blocks[3].assign_(dh.binary("mul", tanh_c).binary("mul", sigmoid_slope(o)))
        d_pre_tensor = wrap(d_pre)
        return (
            d_pre_tensor if projected.requires_grad else None,
            d_pre_tensor if recurrent.requires_grad else None,
            wrap(dc_total.binary("mul", f)) if c_prev.requires_grad else None,
        )

    @staticmethod
    def _differentiable(grad, projected, recurrent, c_prev):  # noqa: ANN001, ANN205
        """The same gradients from tensor ops (recorded when grad mode is on: create_graph)."""
        i, f, g, o = (projected + recurrent).chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        tanh_c = (f * c_prev + i * g).tanh()
        dh, dc = grad[0], grad[1]
        dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
        from ..autograd.tensor import cat

        d_pre = cat(
            [dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
             dc_total * i * (1 - g * g), dh * tanh_c * o * (1 - o)],
            -1,
        )  # fmt: skip
        return (
            d_pre if projected.requires_grad else None,
            d_pre if recurrent.requires_grad else None,
            dc_total * f if c_prev.requires_grad else None,
        )
