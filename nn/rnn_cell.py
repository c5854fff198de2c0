"""One time step of the recurrent cells (Elman RNN, LSTM, GRU) and their Cell modules.

The step functions take the input projection x @ W_ih.T + b_ih already made (so a whole
sequence projects in one matmul, nn/rnn.py) and add the hidden projection themselves. Gate
order along the rows of the weights is torch's: LSTM (i, f, g, o), GRU (r, z, n).
"""

from __future__ import annotations

import math

from plugrad.autograd.tensor import Tensor
from plugrad.factory import empty, zeros
from plugrad.ops.recurrent import LSTMGates

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def cell_step(
    mode: str,
    projected: Tensor,
    state: tuple[Tensor, ...],
    weight_hh: Tensor,
    bias_hh: Tensor | None,
) -> tuple[Tensor, ...]:
    """One step: projected (N, G*H) is the input's projection, state is (h,) or (h, c) of
    (N, H); returns the new state in the same form."""
    h = state[0]
    recurrent = F.linear(h, weight_hh, bias_hh)
    if mode == "RNN_TANH":
        return ((projected + recurrent).tanh(),)
    if mode == "RNN_RELU":
        return ((projected + recurrent).relu(),)
    if mode == "LSTM":
        c_prev = state[1]
        if projected.shape == recurrent.shape and fusable(projected, recurrent, c_prev):
            hc = LSTMGates()(projected, recurrent, c_prev)
            return (hc[0], hc[1])
        i, f, g, o = (projected + recurrent).chunk(4, dim=-1)
        c = f.sigmoid() * state[1] + i.sigmoid() * g.tanh()
        return (o.sigmoid() * c.tanh(), c)
    # GRU: the reset gate scales the hidden projection including its bias (torch's form).
    x_r, x_z, x_n = projected.chunk(3, dim=-1)
    h_r, h_z, h_n = recurrent.chunk(3, dim=-1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return ((1 - z) * n + z * h,)


def fusable(*operands: Tensor) -> bool:
    """Whether an LSTM step or sequence can run as one node (ops.recurrent): operands of one
    floating dtype and device, the ones after the first 2-D (batched). Mixed dtypes, as under
    autocast, take the separate ops and their promotion."""
    first = operands[0]
    return (
        first.ndim >= 2
        and first.dtype.is_floating
        and all(x.dtype is first.dtype and x.device == first.device for x in operands)
        and all(x.ndim == 2 for x in operands[1:])
    )


def check_input_size(what: str, x: Tensor, input_size: int) -> None:
    if x.shape[-1] != input_size:
        raise ValueError(
            f"{what} expects inputs with {input_size} features in the last dim, got shape "
            f"{tuple(x.shape)}"
        )


def reset_uniform(module: Module, hidden_size: int) -> None:
    """torch's init for every recurrent weight and bias: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def check_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class _CellBase(Module):
    """weight_ih (G*H, in), weight_hh (G*H, H), bias_ih and bias_hh (G*H,), torch's names."""

    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: object = None,
        dtype: object = None,
        mode: str | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode or type(self).mode
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__} needs positive sizes, got input_size={input_size}, "
                f"hidden_size={hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(rows, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(rows, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        reset_uniform(self, hidden_size)

    def reset_parameters(self) -> None:
        """Draw fresh weights from torch's default (uniform) initialization."""
        reset_uniform(self, self.hidden_size)

    def _run(self, input: Tensor, state: tuple[Tensor, ...] | None) -> tuple[Tensor, ...]:  # noqa: A002
        what = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{what} expects input (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {tuple(input.shape)}")  # fmt: skip
        check_input_size(what, input, self.input_size)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        count = 2 if self.mode == "LSTM" else 1
        if state is None:
            h0 = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            state = (h0,) * count
        else:
            state = tuple(s.unsqueeze(0) if unbatched else s for s in state)
            want = (x.shape[0], self.hidden_size)
            for s in state:
                if tuple(s.shape) != want:
                    raise ValueError(
                        f"{what} expects a hidden state of shape {want} for input "
                        f"{tuple(input.shape)}, got {tuple(s.shape)}"
                    )
        projected = F.linear(x, self.weight_ih, self.bias_ih)
        out = cell_step(self.mode, projected, state, self.weight_hh, self.bias_hh)
        return tuple(s.squeeze(0) for s in out) if unbatched else out

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh): x (N, in) or (in,), h (N, H) -> (N, H)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, check_mode(nonlinearity))
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._run(input, None if hx is None else (hx,))[0]


class LSTMCell(_CellBase):
    """One LSTM step: x (N, in), (h, c) each (N, H) -> (h', c'); gates (i, f, g, o)."""

    mode = "LSTM"

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        if hx is not None and len(hx) != 2:
            raise ValueError("LSTMCell expects hx as a pair (h, c)")
        return self._run(input, None if hx is None else tuple(hx))


class GRUCell(_CellBase):
    """One GRU step: x (N, in), h (N, H) -> h'; gates (r, z, n)."""

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._run(input, None if hx is None else (hx,))[0]
