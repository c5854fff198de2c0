"""plugrad.nn.init: fill tensors in place from the distributions torch.nn.init uses.

Every function runs under no_grad, draws on the tensor's own device and dtype with one call of
the random stream (uniform(a, b) and normal(mean, std) are computed in float64 and rounded
once, plugrad.random_stream), accepts a `generator=` (default: the global one seeded by
`plugrad.manual_seed`) and returns the tensor. orthogonal_ alone leaves the device: its QR
decomposition runs in NumPy on the host.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor
from plugrad.factory import rand, randn, random_array
from plugrad.factory import tensor as as_plugrad_tensor
from plugrad.random import Generator

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
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


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b], by torch's inverse-CDF method: draw u
    uniformly between Phi((a - mean) / std) and Phi((b - mean) / std) and map it back
    through the normal quantile. With an infinite bound, the rare draw that lands exactly on
    it gives a large finite value (more than 5 std out) where torch's gives +-inf."""
    _check_floating(tensor, "trunc_normal_")
    if not std > 0:
        raise ValueError(f"trunc_normal_ needs std > 0, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_; the distribution "
            "of values may be incorrect",
            stacklevel=2,
        )
    low = math.erf((a - mean) / (std * math.sqrt(2.0)))  # 2 Phi(.) - 1, in erf's range
    high = math.erf((b - mean) / (std * math.sqrt(2.0)))
    with no_grad():
        u = rand(*tensor.shape, dtype=tensor.dtype, device=tensor.device, generator=generator)
        z = _erfinv(u * (high - low) + low)
        return tensor.copy_((z * (std * math.sqrt(2.0)) + mean).clamp(a, b))


def _erfinv(y: Tensor) -> Tensor:
    """The inverse of erf on (-1, 1): Giles' single-precision approximation ("Approximating
    the erfinv function", 2010), then two Newton steps on erf(x) = y for full precision.
    y is first kept strictly inside (-1, 1), where erfinv is finite."""
    edge = float(np.nextafter(np.array(1.0, dtype=y.dtype.numpy), 0))
    y = y.clamp(-edge, edge)
    w = -((1.0 - y) * (1.0 + y)).log()
    central, tail = w - 2.5, w.sqrt() - 3.0
    p_central = _horner(central, _ERFINV_CENTRAL)
    p_tail = _horner(tail, _ERFINV_TAIL)
    x = (w < 5.0).astype(y.dtype) * (p_central - p_tail) + p_tail
    x = x * y
    for _ in range(2):
        x = x - (x.erf() - y) / ((-(x * x)).exp() * (2.0 / math.sqrt(math.pi)))
    return x


def _horner(w: Tensor, coefficients: tuple[float, ...]) -> Tensor:
    p = w * 0.0 + coefficients[0]
    for c in coefficients[1:]:
        p = p * w + c
    return p


_ERFINV_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_ERFINV_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill a (rows, *) tensor with a (semi-)orthogonal matrix times gain, drawn uniformly
    (Haar): the QR decomposition of a Gaussian (rows, cols) matrix, cols = numel / rows, with
    the signs of R's diagonal moved into Q. The Gaussian is drawn on the tensor's device;
    the QR runs in NumPy (float64) on the host, and the result is copied back with copy_()."""
    _check_floating(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_ needs a tensor with 2 or more dimensions, got shape {tensor.shape}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        gaussian = randn(rows, cols, dtype=tensor.dtype, device=tensor.device, generator=generator)
        flat = np.asarray(gaussian.numpy(), dtype=np.float64)
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        values = as_plugrad_tensor(q.reshape(tensor.shape) * gain, dtype=tensor.dtype,
                                   device=tensor.device)  # fmt: skip
        return tensor.copy_(values)


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
