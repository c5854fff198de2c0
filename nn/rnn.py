"""Multi-layer recurrent networks: RNN (tanh or relu), LSTM and GRU, with torch's options
(num_layers, bias, batch_first, dropout between layers, bidirectional, initial states) and
torch's parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, ..., *_reverse), so a torch
state_dict loads as it is.

Shapes (L sequence length, N batch, D = 2 if bidirectional else 1):
input (L, N, in) or (N, L, in) with batch_first, or (L, in) unbatched;
h0 (and c0 for LSTM) (D * num_layers, N, H) or (D * num_layers, H) unbatched;
output (L, N, D * H) (batch_first: (N, L, D * H)); h_n (and c_n) like h0.
"""

from __future__ import annotations

from plugrad.autograd.tensor import Tensor, cat, stack
from plugrad.factory import empty, zeros
from plugrad.ops.recurrent import LSTMSequence

from . import functional as F
from .module import Module
from .parameter import Parameter
from .rnn_cell import GATES, cell_step, check_input_size, check_mode, reset_uniform
from .rnn_cell import fusable as _fusable


def _run_direction(
    mode: str,
    x: Tensor,
    state: tuple[Tensor, ...],
    weights: tuple[Tensor, Tensor, Tensor | None, Tensor | None],
    reverse: bool,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One layer, one direction over x (L, N, in): outputs (L, N, H) and the last state."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    # Every step's input projection in one matmul: (L, N, G*H).
    projected = F.linear(x, weight_ih, bias_ih)
    if bias_hh is not None and mode != "GRU":  # GRU's reset gate scales h's bias: kept apart
        projected = projected + bias_hh  # once per sequence instead of once per step
        bias_hh = None
    if mode == "LSTM" and _fusable(projected, weight_hh, *state):
        length = x.shape[0]
        out = LSTMSequence(reverse)(projected, weight_hh, *state)
        return out[:length], (out[0 if reverse else length - 1], out[length])
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[Tensor] = [None] * x.shape[0]  # type: ignore[list-item]
    for t in steps:
        state = cell_step(mode, projected[t], state, weight_hh, bias_hh)
        outputs[t] = state[0]
    return stack(outputs, 0), state


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if proj_size != 0:
            raise NotImplementedError(
                f"{name} proj_size is not supported; project the output with nn.Linear instead"
            )
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{name} needs positive input_size, hidden_size and num_layers, got "
                f"({input_size}, {hidden_size}, {num_layers})"
            )
        if not 0.0 <= dropout <= 1.0 or isinstance(dropout, bool):
            raise ValueError(f"{name} dropout must be a probability in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        rows = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (rows, layer_in), "weight_hh": (rows, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for kind, shape in shapes.items():
                    param = Parameter(empty(*shape, dtype=dtype, device=device))
                    setattr(self, kind + suffix, param)
                    self._flat_weights_names.append(kind + suffix)
        reset_uniform(self, hidden_size)

    def reset_parameters(self) -> None:
        """Draw fresh weights from torch's default (uniform) initialization."""
        reset_uniform(self, self.hidden_size)

    def _weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(
            getattr(self, kind + suffix, None)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def _initial(self, hx: Tensor | None, batch: int, like: Tensor, unbatched: bool) -> Tensor:
        directions = 2 if self.bidirectional else 1
        want = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            return zeros(*want, dtype=like.dtype, device=like.device)
        h = hx.unsqueeze(1) if unbatched else hx
        if tuple(h.shape) != want:
            shown = want[:1] + want[2:] if unbatched else want
            raise ValueError(
                f"{type(self).__name__} expects an initial state of shape {shown} for input "
                f"{tuple(like.shape)}, got {tuple(hx.shape)}"
            )
        return h

    def _forward(
        self,
        input: Tensor,  # noqa: A002
        states: tuple[Tensor | None, ...],
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name} expects input (L, N, {self.input_size}) (batch_first: (N, L, ...)) or "
                f"unbatched (L, {self.input_size}), got shape {tuple(input.shape)}"
            )
        check_input_size(name, input, self.input_size)
        unbatched = input.ndim == 2
        if unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        if x.shape[0] == 0:
            raise ValueError(
                f"{name} expects a sequence of at least one step, got input shape "
                f"{tuple(input.shape)} (length 0)"
            )
        initial = [self._initial(h, x.shape[1], input, unbatched) for h in states]
        directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in initial]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0.0:
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                state = tuple(h[index] for h in initial)
                out, last = _run_direction(
                    self.mode, x, state, self._weights(layer, direction), bool(direction)
                )
                outputs.append(out)
                for kept, s in zip(finals, last):
                    kept.append(s)
            x = outputs[0] if directions == 1 else cat(outputs, -1)
        final = tuple(stack(kept, 0) for kept in finals)
        if unbatched:
            return x.squeeze(1), tuple(h.squeeze(1) for h in final)
        return (x.transpose(0, 1) if self.batch_first else x), final

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    forward(input, hx=None) -> (output, h_n); shapes in the module docstring."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: object = None,
        dtype: object = None,
    ) -> None:
        mode = check_mode(nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)  # fmt: skip
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as in torch.

    forward(input, (h0, c0)=None) -> (output, (h_n, c_n)); shapes in the module docstring."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)  # fmt: skip
        self.proj_size = 0

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and len(hx) != 2:
            raise ValueError("LSTM expects hx as a pair (h0, c0)")
        states = (None, None) if hx is None else tuple(hx)
        output, (h_n, c_n) = self._forward(input, states)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) as in torch.

    forward(input, hx=None) -> (output, h_n); shapes in the module docstring."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n
