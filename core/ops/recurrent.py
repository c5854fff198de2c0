"""The LSTM recurrence as graph nodes: one step (`LSTMGates`, for nn.LSTMCell) or a whole
sequence of one layer and direction (`LSTMSequence`, for nn.LSTM), instead of a dozen nodes
per time step (gate slices, sigmoids, tanhs, products). The gate arithmetic is
`plugrad.ops.fused.lstm_gates` and its backward: the backend's fused kernel, or composed.

The sequence node also makes the weight gradient one matrix product over every step,
dW_hh = sum_t d_pre_t^T h_{t-1}, where per-step nodes would run one small product a step.
When backward itself records a graph (create_graph), both nodes give their gradients from
tensor ops instead, so that second derivatives exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from .base import Op
from .fused import lstm_gates, lstm_gates_backward

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def _step(x: NDArray, t: int) -> NDArray:
    """x[t] of an (L, ...) array, without slice_view's general path (the loops' hot spot)."""
    return x._view(x.shape[1:], x.strides[1:], x.offset + t * x.strides[0])


def _same_dtype(grad: NDArray, like: NDArray) -> NDArray:
    return grad if grad.dtype is like.dtype else grad.astype(like.dtype)


class LSTMGates(Op):
    """(projected (N, 4H), recurrent (N, 4H), c_prev (N, H)) -> (2, N, H): h and c stacked,
    so that each is a compact view of the one output."""

    saved = (2,)  # c_prev; the gates and c it keeps itself (the output may be written over)

    def __init__(self) -> None:
        self.gates: NDArray | None = None
        self.c: NDArray | None = None

    @property
    def name(self) -> str:
        return "lstm_gates"

    def compute(self, projected: NDArray, recurrent: NDArray, c_prev: NDArray) -> NDArray:
        n, hidden = c_prev.shape
        gates = NDArray.empty((n, 4 * hidden), c_prev.dtype, c_prev.device)
        c = NDArray.empty((n, hidden), c_prev.dtype, c_prev.device)
        out = NDArray.empty((2, n, hidden), c_prev.dtype, c_prev.device)
        lstm_gates(projected, recurrent, c_prev, gates, c, _step(out, 0))
        _step(out, 1).assign_(c)
        self.gates, self.c = gates, c
        return out

    def gradient(self, grad: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        projected, recurrent, c_prev = node._inputs
        if is_grad_enabled() or self.gates is None:
            return self._differentiable(grad, projected, recurrent, c_prev)
        from ..autograd.tensor import Tensor as TensorClass

        ga = _same_dtype(grad.array, self.c)
        d_pre = NDArray.empty(self.gates.shape, self.c.dtype, self.c.device)
        dc_prev = NDArray.empty(self.c.shape, self.c.dtype, self.c.device)
        lstm_gates_backward(
            _step(ga, 0), _step(ga, 1), self.gates, self.c, c_prev.array, d_pre, dc_prev
        )
        d_pre_tensor = TensorClass._wrap(d_pre)
        return (
            d_pre_tensor if projected.requires_grad else None,
            d_pre_tensor if recurrent.requires_grad else None,
            TensorClass._wrap(dc_prev) if c_prev.requires_grad else None,
        )

    @staticmethod
    def _differentiable(grad, projected, recurrent, c_prev):  # noqa: ANN001, ANN205
        """The same gradients from tensor ops (recorded when grad mode is on: create_graph)."""
        state = _gates_of(projected + recurrent, c_prev)
        d_pre, dc_prev = _gates_backward_of(grad[0], grad[1], state)
        return (
            d_pre if projected.requires_grad else None,
            d_pre if recurrent.requires_grad else None,
            dc_prev if c_prev.requires_grad else None,
        )


class LSTMSequence(Op):
    """One LSTM layer in one direction over a sequence:
    (projected (L, N, 4H), weight_hh (4H, H), h0 (N, H), c0 (N, H)) -> (L + 1, N, H), whose
    rows 0..L-1 are h at each time and row L the last c. projected holds x_t W_ih^T plus both
    biases; step t adds h_{t-1} W_hh^T. `reverse` runs from t = L-1 down to 0 (the backward
    direction of a bidirectional LSTM); h's rows stay in time order either way."""

    saved = (1, 2, 3)  # weight_hh, h0, c0; the gates, c and h it keeps itself

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse
        self.gates: NDArray | None = None  # (L, N, 4H), after their activations
        self.c: NDArray | None = None  # (L, N, H)
        self.h: NDArray | None = None  # (L, N, H)

    @property
    def name(self) -> str:
        return "lstm_sequence"

    def _order(self, length: int) -> range:
        return range(length - 1, -1, -1) if self.reverse else range(length)

    def compute(self, projected: NDArray, weight_hh: NDArray, h0: NDArray, c0: NDArray) -> NDArray:
        length, n, _ = projected.shape
        hidden = c0.shape[1]
        dtype, device = c0.dtype, c0.device
        gates = NDArray.empty((length, n, 4 * hidden), dtype, device)
        c = NDArray.empty((length, n, hidden), dtype, device)
        h = NDArray.empty((length, n, hidden), dtype, device)
        weight_t = weight_hh.permute(1, 0).compact()  # (H, 4H): the GEMM's contiguous case
        h_prev, c_prev = h0, c0
        for t in self._order(length):
            recurrent = h_prev.matmul(weight_t)
            h_t, c_t = _step(h, t), _step(c, t)
            lstm_gates(_step(projected, t), recurrent, c_prev, _step(gates, t), c_t, h_t)
            h_prev, c_prev = h_t, c_t
        out = NDArray.empty((length + 1, n, hidden), dtype, device)
        out.slice_view((slice(0, length),)).assign_(h)
        _step(out, length).assign_(c_prev)
        self.gates, self.c, self.h = gates, c, h
        return out

    def gradient(self, grad: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        projected, weight_hh, h0, c0 = node._inputs
        if is_grad_enabled() or self.gates is None:
            return self._differentiable(grad, projected, weight_hh, h0, c0)
        from ..autograd.tensor import Tensor as TensorClass

        gates, c, h = self.gates, self.c, self.h
        length, n, hidden = c.shape
        ga = _same_dtype(grad.array, c)
        weight = weight_hh.array
        d_pre = NDArray.empty(gates.shape, c.dtype, c.device)
        dc_next = _step(ga, length)
        dh_next: NDArray | None = None
        order = self._order(length)
        for t in reversed(order):
            dh = _step(ga, t)
            if dh_next is not None:
                dh = dh.binary("add", dh_next, out=dh_next)
            dc_prev = NDArray.empty((n, hidden), c.dtype, c.device)
            c_prev = self._c_prev(c0.array, c, t)
            lstm_gates_backward(dh, dc_next, _step(gates, t), _step(c, t), c_prev,
                                _step(d_pre, t), dc_prev)  # fmt: skip
            dh_next = _step(d_pre, t).matmul(weight)
            dc_next = dc_prev
        wrap = TensorClass._wrap
        d_weight = None
        if weight_hh.requires_grad:
            # h_{t-1} of every step in time order: h0 then h's first L-1 rows (reversed: h's
            # last L-1 rows, then h0), so that one product sums over every step
            h_prev = NDArray.empty((length, n, hidden), c.dtype, c.device)
            first, rest = (
                (length - 1, slice(0, length - 1)) if self.reverse else (0, slice(1, None))
            )
            _step(h_prev, first).assign_(h0.array)
            kept = slice(1, None) if self.reverse else slice(0, length - 1)
            h_prev.slice_view((rest,)).assign_(h.slice_view((kept,)))
            flat_d = d_pre.reshape(length * n, 4 * hidden).permute(1, 0)
            d_weight = wrap(flat_d.matmul(h_prev.reshape(length * n, hidden)))
        return (
            wrap(d_pre) if projected.requires_grad else None,
            d_weight,
            wrap(dh_next) if h0.requires_grad else None,
            wrap(dc_next) if c0.requires_grad else None,
        )

    def _c_prev(self, c0: NDArray, c: NDArray, t: int) -> NDArray:
        """The cell state step t starts from: c0 at the first step, else the previous c."""
        if t == (c.shape[0] - 1 if self.reverse else 0):
            return c0
        return _step(c, t + 1 if self.reverse else t - 1)

    def _differentiable(self, grad, projected, weight_hh, h0, c0):  # noqa: ANN001, ANN205
        """The same gradients from tensor ops (recorded when grad mode is on: create_graph)."""
        from ..autograd.tensor import stack

        length = projected.shape[0]
        order = self._order(length)
        weight_t = weight_hh.transpose(0, 1)
        states, h_prevs = {}, {}
        h, c = h0, c0
        for t in order:
            h_prevs[t] = h
            states[t] = _gates_of(projected[t] + h @ weight_t, c)
            h, c = states[t]["h"], states[t]["c"]
        d_pres: list = [None] * length
        dh_next, dc_next = None, grad[length]
        for t in reversed(order):
            dh = grad[t] if dh_next is None else grad[t] + dh_next
            d_pres[t], dc_next = _gates_backward_of(dh, dc_next, states[t])
            dh_next = d_pres[t] @ weight_hh
        d_pre = stack(d_pres, 0)
        d_weight = None
        if weight_hh.requires_grad:
            products = [d_pres[t].transpose(0, 1) @ h_prevs[t] for t in order]
            d_weight = stack(products, 0).sum(0)
        return (
            d_pre if projected.requires_grad else None,
            d_weight,
            dh_next if h0.requires_grad else None,
            dc_next if c0.requires_grad else None,
        )


def _gates_of(pre: Tensor, c_prev: Tensor) -> dict:
    """One step's gates, c and h in tensor ops, from pre (N, 4H) and c_prev (N, H)."""
    i, f, g, o = pre.chunk(4, dim=-1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c_prev + i * g
    tanh_c = c.tanh()
    return {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "c": c, "tanh_c": tanh_c,
            "h": o * tanh_c}  # fmt: skip


def _gates_backward_of(dh: Tensor, dc: Tensor, s: dict) -> tuple[Tensor, Tensor]:
    """(d_pre, dc_prev) of one step in tensor ops (the formulas of `lstm_gates_backward`)."""
    from ..autograd.tensor import cat

    i, f, g, o, tanh_c = s["i"], s["f"], s["g"], s["o"], s["tanh_c"]
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    d_pre = cat(
        [dc_total * g * i * (1 - i), dc_total * s["c_prev"] * f * (1 - f),
         dc_total * i * (1 - g * g), dh * tanh_c * o * (1 - o)],
        -1,
    )  # fmt: skip
    return d_pre, dc_total * f
