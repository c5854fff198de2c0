"""Elementwise functions of the Array API: plugrad's ops under the standard's names.

Binary functions take a Python scalar for either operand (at least one is an array), as the
2024.12 standard allows. The few functions plugrad has no kernel for (tan, copysign,
nextafter, signbit) run NumPy on a host copy and return to the operands' device.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import api
from .. import dtypes as dt
from ..api.arith import FloatRemainder
from ..autograd.tensor import Tensor
from ..ndarray import NDArray

_F = api.FUNCTIONS
Scalar = builtins.bool | int | float


def _pair(x1: Any, x2: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors on one device, a Python scalar taking the array's dtype
    family (as the standard's mixed array-scalar rules); two arrays of different dtypes both
    in their promoted dtype, whatever their ranks (torch's rule, which plugrad's operators
    follow, lets a 0-d array of a wider dtype of the same kind yield: int8 + 0-d int16 is
    int8 there, int16 here)."""
    if isinstance(x1, Tensor) and isinstance(x2, Tensor):
        if x1.dtype is not x2.dtype:
            common = dt.promote(x1.dtype, x2.dtype)
            return x1.astype(common), x2.astype(common)
        return x1, x2
    if isinstance(x1, Tensor):
        return x1, _scalar_like(x2, x1)
    if isinstance(x2, Tensor):
        return _scalar_like(x1, x2), x2
    raise TypeError(f"expected at least one array, got {type(x1).__name__}, {type(x2).__name__}")


def _scalar_like(value: Any, like: Tensor) -> Tensor:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (builtins.bool, int, float)):
        return Tensor(value, device=like.device)
    dtype = dt.promote_scalar(like.dtype, value)
    return Tensor._wrap(NDArray.full((), value, dtype, like.device))


def _host(fn: Callable[..., np.ndarray], *xs: Tensor) -> Tensor:
    arrays = [np.asarray(x.detach().array.numpy()) for x in xs]
    with np.errstate(all="ignore"):
        result = np.asarray(fn(*arrays))
    dtype = dt.promote(xs[0].dtype, xs[-1].dtype) if result.dtype.kind != "b" else dt.bool_
    return Tensor._wrap(NDArray.from_numpy(result, xs[0].device, dtype))


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating else x.astype(dt.float64)


# --- unary ---------------------------------------------------------------------------------
def abs(x: Tensor, /) -> Tensor:  # noqa: A001
    return x.abs()


def negative(x: Tensor, /) -> Tensor:
    return -x


def positive(x: Tensor, /) -> Tensor:
    return +x


def sign(x: Tensor, /) -> Tensor:
    return x.sign()


def _unary(name: str) -> Callable[[Tensor], Tensor]:
    torch_fn = _F.get(name) or getattr(Tensor, name)

    def function(x: Tensor, /) -> Tensor:
        return torch_fn(x)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name} (plugrad.{name})."
    return function


exp = _unary("exp")
log = _unary("log")
sqrt = _unary("sqrt")
tanh = _unary("tanh")
sin = _unary("sin")
cos = _unary("cos")
floor = _unary("floor")
ceil = _unary("ceil")
trunc = _unary("trunc")
expm1 = _unary("expm1")
log1p = _unary("log1p")
log2 = _unary("log2")
log10 = _unary("log10")
sinh = _unary("sinh")
cosh = _unary("cosh")
asin = _unary("asin")
acos = _unary("acos")
atan = _unary("atan")
asinh = _unary("asinh")
acosh = _unary("acosh")
atanh = _unary("atanh")
isnan = _unary("isnan")
isinf = _unary("isinf")
isfinite = _unary("isfinite")
reciprocal = _unary("reciprocal")
square = _unary("square")


def round(x: Tensor, /) -> Tensor:  # noqa: A001
    """Round half to even, as NumPy and the standard."""
    return x if not x.dtype.is_floating else _F["round"](x)


def tan(x: Tensor, /) -> Tensor:
    return _host(np.tan, _float(x))


def signbit(x: Tensor, /) -> Tensor:
    return _host(np.signbit, x)


def conj(x: Tensor, /) -> Tensor:
    return x


def real(x: Tensor, /) -> Tensor:
    return x


def imag(x: Tensor, /) -> Tensor:
    from .. import factory

    return factory.zeros_like(x)


def logical_not(x: Tensor, /) -> Tensor:
    return x.logical_not()


def bitwise_invert(x: Tensor, /) -> Tensor:
    return x.bitwise_not()


# --- binary --------------------------------------------------------------------------------
def _binary(name: str, method: str) -> Callable[[Any, Any], Tensor]:
    def function(x1: Any, x2: Any, /) -> Tensor:
        a, b = _pair(x1, x2)
        return getattr(a, method)(b)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name}: x1.{method}(x2); either may be a Python scalar."
    return function


add = _binary("add", "__add__")
subtract = _binary("subtract", "__sub__")
multiply = _binary("multiply", "__mul__")
divide = _binary("divide", "__truediv__")
pow = _binary("pow", "__pow__")  # noqa: A001
floor_divide = _binary("floor_divide", "__floordiv__")
equal = _binary("equal", "__eq__")
not_equal = _binary("not_equal", "__ne__")
less = _binary("less", "__lt__")
less_equal = _binary("less_equal", "__le__")
greater = _binary("greater", "__gt__")
greater_equal = _binary("greater_equal", "__ge__")
maximum = _binary("maximum", "maximum")
minimum = _binary("minimum", "minimum")
bitwise_and = _binary("bitwise_and", "bitwise_and")
bitwise_or = _binary("bitwise_or", "bitwise_or")
bitwise_xor = _binary("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _binary("bitwise_left_shift", "bitwise_left_shift")
bitwise_right_shift = _binary("bitwise_right_shift", "bitwise_right_shift")


def remainder(x1: Any, x2: Any, /) -> Tensor:
    """x1 - floor(x1 / x2) * x2, the sign of x2 (Python's %). A zero result has x2's sign, as
    the standard (and NumPy, Python) say; plugrad.remainder and the % operator follow torch,
    whose zero has x1's sign. Everything else is the same in both."""
    a, b = _pair(x1, x2)
    if a.dtype.is_floating or b.dtype.is_floating:
        return FloatRemainder("floor", "other")(a, b)
    return a % b


def atan2(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _F["atan2"](a, b)


def hypot(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _F["hypot"](a, b)


def logaddexp(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _F["logaddexp"](a, b)


def copysign(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _host(np.copysign, _float(a), _float(b))


def nextafter(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _host(np.nextafter, a, b)


def _logical(x: Tensor) -> Tensor:
    return x if x.dtype is dt.bool_ else x != 0


def logical_and(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _logical(a) & _logical(b)


def logical_or(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _logical(a) | _logical(b)


def logical_xor(x1: Any, x2: Any, /) -> Tensor:
    a, b = _pair(x1, x2)
    return _logical(a) ^ _logical(b)


def clip(x: Tensor, /, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp into [min, max] (either None, a scalar or an array); keeps x's dtype."""
    out = x
    if min is not None:
        out = maximum(out, min if not isinstance(min, Tensor) else min.astype(x.dtype))
    if max is not None:
        out = minimum(out, max if not isinstance(max, Tensor) else max.astype(x.dtype))
    if out.dtype is not x.dtype:
        out = out.astype(x.dtype)
    return out if out is not x else x.clone()


__all__ = (
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_invert", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clip", "conj", "copysign", "cos", "cosh", "divide", "equal", "exp", "expm1",
    "floor", "floor_divide", "greater", "greater_equal", "hypot", "imag", "isfinite", "isinf",
    "isnan", "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "multiply", "negative",
    "nextafter", "not_equal", "positive", "pow", "real", "reciprocal", "remainder", "round",
    "sign", "signbit", "sin", "sinh", "square", "sqrt", "subtract", "tan", "tanh", "trunc",
)  # fmt: skip
