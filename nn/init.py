"""plugrad.nn.init: fill tensors in place from the distributions torch.nn.init uses.

Every function runs under no_grad, draws on the tensor's own device and dtype with one call of
the random stream (uniform(a, b) and normal(mean, std) are computed in float64 and rounded
once, plugrad.random_stream), accepts a `generator=` (default: the global one seeded by
`plugrad.manual_seed`) and returns the tensor.
"""

from __future__ import annotations

import math

from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor
from plugrad.factory import random_array
from plugrad.random import Generator

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "sigmoid")  # fmt: skip


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: relu sqrt(2), tanh 5/3, leaky_relu
    sqrt(2 / (1 + slope^2)) with slope `param` (default 0.01), selu 3/4, linear and sigmoid 1."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}; use one of relu, leaky_relu, tanh, selu, "
        f"{', '.join(_LINEAR)}"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): in * k and out * k."""
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}"
        )
    receptive = 1
    for d in tensor.shape[2:]:
        receptive *= d
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check_floating(tensor: Tensor, what: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} fills a plugrad Tensor, got {type(tensor).__name__}")
    if not tensor.dtype.is_floating:
        raise TypeError(f"{what} needs a floating-point tensor, got {tensor.dtype.name}")


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with U(a, b)."""
    _check_floating(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    with no_grad():
        u = random_array("uniform", tensor.shape, tensor.dtype, tensor.device, generator, a, b)
        return tensor.copy_(Tensor._wrap(u))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with N(mean, std^2)."""
    _check_floating(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_ needs std >= 0, got {std}")
    with no_grad():
        z = random_array("normal", tensor.shape, tensor.dtype, tensor.device, generator, mean, std)
        return tensor.copy_(Tensor._wrap(z))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value `val`."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He: U(-b, b) with b = gain * sqrt(3 / fan); fan_in keeps forward variance, fan_out
    backward. `a` is the leaky_relu slope (0 gives the relu gain sqrt(2))."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He: N(0, std^2) with std = gain / sqrt(fan), so ReLU layers keep the activations'
    second moment constant through depth."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def _default_layer_init(weight: Tensor, bias: Tensor | None) -> None:
    """torch's reset for Linear and Conv: kaiming_uniform_(a=sqrt(5)) for the weight, which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = _calculate_fan_in_and_fan_out(weight)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
