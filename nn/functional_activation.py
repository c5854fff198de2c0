"""Elementwise activations of torch.nn.functional beyond relu, tanh, sigmoid and gelu.

Each is a composite of differentiable Tensor ops, so gradients (and gradients of gradients)
come from autograd on every device. Branches are written with `where`, whose unselected side
still runs: inputs are clamped so that side stays finite, else its zero gradient would turn
into 0 * inf = NaN. `inplace=True` writes the result into the input (a recorded in-place
write, as torch's) and returns it; when autograd records the call, the result is computed
from a copy first, so unlike torch's it saves no memory.
"""

from __future__ import annotations

from plugrad.amp.casting import autocast_op
from plugrad.autograd.tensor import Tensor, where

__all__ = [
    "elu",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "prelu",
    "relu6",
    "selu",
    "silu",
    "softplus",
]

# SELU's constants (Klambauer et al., 2017), as torch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# expm1 and log1p as composites, for the activations here; Tensor methods of those names
# may replace them. Below this |x| they use their Taylor series (exact to float64 rounding).
_SERIES_BELOW = 1e-3


def _expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate near 0 (where exp(x) - 1 cancels), from exp and a series."""
    small = x.abs() < _SERIES_BELOW
    tiny = where(small, x, 0.0)
    series = tiny * (1 + tiny * (1 / 2 + tiny * (1 / 6 + tiny * (1 / 24 + tiny / 120))))
    return where(small, series, where(small, 0.0, x).exp() - 1)


def _log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate near 0, from log and a series (x > -1)."""
    small = x.abs() < _SERIES_BELOW
    tiny = where(small, x, 0.0)
    series = tiny * (1 - tiny * (1 / 2 - tiny * (1 / 3 - tiny * (1 / 4 - tiny / 5))))
    return where(small, series, (where(small, 0.0, x) + 1).log())


def _stable_softplus(z: Tensor) -> Tensor:
    """log(1 + exp(z)), as z + log1p(exp(-z)) for z > 0 and log1p(exp(z)) otherwise: exp
    never overflows, and each branch is smooth, so the gradient at 0 is sigmoid(0) = 1/2."""
    positive, negative = z.clamp(min=0.0), z.clamp(max=0.0)
    return where(z > 0, positive + _log1p((-positive).exp()), _log1p(negative.exp()))


def _source(input: Tensor, inplace: bool) -> Tensor:  # noqa: A002
    """What to compute from: the input, or for an in-place call that autograd records, a
    copy of it (the ops save their inputs for backward, and the write would overwrite them)."""
    return input.clone() if inplace and input.requires_grad else input


def _result(input: Tensor, out: Tensor, inplace: bool) -> Tensor:  # noqa: A002
    return input.copy_(out) if inplace else out


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, negative_slope * x otherwise."""
    x = _source(input, inplace)
    return _result(input, where(x > 0, x, x * negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    x = _source(input, inplace)
    return _result(input, where(x > 0, x, _expm1(x.clamp(max=0.0)) * alpha), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with SELU's self-normalizing constants."""
    x = _source(input, inplace)
    negative = _expm1(x.clamp(max=0.0)) * (SELU_ALPHA * SELU_SCALE)
    return _result(input, where(x > 0, x * SELU_SCALE, negative), inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (swish)."""
    x = _source(input, inplace)
    return _result(input, x * x.sigmoid(), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x))."""
    x = _source(input, inplace)
    return _result(input, x * _stable_softplus(x).tanh(), inplace)


@autocast_op("softplus")
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as torch)."""
    z = input * beta
    return where(z > threshold, input, _stable_softplus(z) / beta)


def hardtanh(
    input: Tensor,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 elsewhere (as
    torch, including at the bounds)."""
    if not max_val > min_val:
        raise ValueError(f"hardtanh needs min_val < max_val, got {min_val} and {max_val}")
    x = _source(input, inplace)
    inside = (x > min_val) & (x < max_val)
    return _result(input, where(inside, x, x.detach().clamp(min_val, max_val)), inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6: 0 up to -3, x from 3, x (x + 3) / 6 between (torch's gradient at
    -3 and 3 is the outer pieces' 0 and 1)."""
    x = _source(input, inplace)
    inside = (x > -3.0) & (x < 3.0)
    outside = where(x >= 3.0, x, 0.0)
    return _result(input, where(inside, x * (x + 3.0) / 6.0, outside), inplace)


@autocast_op("prelu")
def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x for x > 0, weight * x otherwise; weight holds one slope, or one per channel (dim 1
    of a (N, C, *) input)."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or weight.shape[0] != channels:
            raise ValueError(
                f"prelu: weight of shape {weight.shape} must hold 1 slope or one per channel "
                f"(input {input.shape} has {channels} along dim 1)"
            )
        weight = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    else:
        weight = weight.reshape(())
    return where(input > 0, input, input * weight)
