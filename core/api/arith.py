"""Arithmetic and elementwise math, torch's names: the method forms with alpha=, floor and
remainder division, logs and exponentials of other bases, rounding, inverse trigonometric and
hyperbolic functions, and the NaN/inf tests. Composed from the protocol's kernels
(`ops/composite.py` for those whose gradient needs its closed form)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..autograd.tensor import Tensor, matmul, where
from ..ndarray import NDArray
from ..ops import elementwise as ew
from ..ops.base import Op, unbroadcast
from ..ops.composite import Composite, round_half_even
from ..ops.composite import trunc as _trunc_array
from .registry import export

Operand = Any  # a Tensor or a Python number


def _float(x: Tensor) -> Tensor:
    """x, or x as float32 when it is an integer or bool tensor (torch's default dtype)."""
    return x if x.dtype.is_floating else x.astype(dt.float32)


def _tensor(x: Operand, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if not isinstance(x, (int, float, bool)):  # lists, NumPy arrays
        return Tensor(x, device=like.device)
    return Tensor._wrap(NDArray.full((), x, dt.promote_scalar(like.dtype, x), like.device))


def _composite(name: str, *xs: Tensor) -> Tensor:
    xs = tuple(_float(x) for x in xs)
    if len(xs) == 2 and xs[0].dtype is not xs[1].dtype:
        common = dt.promote(xs[0].dtype, xs[1].dtype)
        xs = tuple(x.astype(common) for x in xs)
    return Composite(name)(*xs)


# --- the method forms of the operators --------------------------------------------------
@export
def add(input: Tensor, other: Operand, *, alpha: Operand = 1) -> Tensor:  # noqa: A002
    """input + alpha * other."""
    return input + (other if alpha == 1 else other * alpha)


@export
def sub(input: Tensor, other: Operand, *, alpha: Operand = 1) -> Tensor:  # noqa: A002
    """input - alpha * other."""
    return input - (other if alpha == 1 else other * alpha)


@export(aliases=("multiply",))
def mul(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
    return input * other


@export(aliases=("divide",))
def div(input: Tensor, other: Operand, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other; rounding_mode "trunc" or "floor" rounds the quotient (integers stay
    integers then, as in torch)."""
    if rounding_mode is None:
        return input / other
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        if input.dtype.is_floating or (isinstance(other, Tensor) and other.dtype.is_floating):
            return trunc(input / other)
        return _integer_division(input, other, "trunc")
    raise ValueError(
        f"div(): rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
    )


@export(method=False)
def pow(input: Tensor, exponent: Operand) -> Tensor:  # noqa: A001,A002 - torch's name
    return input**exponent


export(matmul, method=False)


def _integer_division(a: Tensor, b: Operand, mode: str) -> Tensor:
    """a // b ("floor") or a / b rounded toward zero ("trunc") for integer operands, through
    float64 (exact for magnitudes below 2**53). Division by zero raises, as torch's CPU does."""
    divisor = b if isinstance(b, Tensor) else _tensor(b, a)
    if bool((divisor == 0).any()):
        raise ZeroDivisionError(f"integer {mode} division by zero in {mode}_divide()")
    common = dt.promote(a.dtype, divisor.dtype)
    q = a.astype(dt.float64) / divisor.astype(dt.float64)
    q = q.floor() if mode == "floor" else trunc(q)
    return q.astype(common)


def _integers(a: Tensor, b: Operand) -> bool:
    b_floating = b.dtype.is_floating if isinstance(b, Tensor) else isinstance(b, float)
    return not (a.dtype.is_floating or b_floating)


@export(inplace_form=True)
def floor_divide(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
    """floor(input / other) (Python's //); integers stay integers."""
    if _integers(input, other):
        return _integer_division(input, other, "floor")
    return _FloorQuotient()(input, _tensor(other, input))


class _FloorQuotient(Op):
    """floor(a / b) for floating operands; flat, so its gradient is zero (as torch's)."""

    saved = ()

    @property
    def name(self) -> str:
        return "floor_divide"

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        return a.binary("div", b).unary("floor")

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, Tensor]:
        a, b = node._inputs
        zero = Tensor._wrap(NDArray.full((), 0, g.dtype, g.device))
        return zero.broadcast_to(a.shape), zero.broadcast_to(b.shape)


@export(inplace_form=True)
def remainder(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
    """input - floor(input / other) * other: the sign of other (Python's %). A finite input
    over an infinite other is input, or other where their signs differ (as torch and
    Python); a zero result has input's sign, as torch's (Python's and the Array API's has
    other's: `plugrad.array_api.remainder`)."""
    if _integers(input, other):
        return input - _integer_division(input, other, "floor") * other
    return FloatRemainder("floor", "input")(input, _tensor(other, input))


@export(inplace_form=True)
def fmod(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
    """input - trunc(input / other) * other: the sign of input (C's fmod); a finite input over
    an infinite other is input."""
    if _integers(input, other):
        return input - _integer_division(input, other, "trunc") * other
    return FloatRemainder("trunc", "input")(input, _tensor(other, input))


class FloatRemainder(Op):
    """a - round(a / b) * b for floating operands, round floor (remainder) or trunc (fmod),
    with C's and Python's values where the formula has none: a finite a over an infinite b
    is a (remainder: b where the signs differ, a != 0), not NaN. A zero result takes the sign
    of `zero_sign`'s operand: "input" (torch, C's fmod) or "other" (Python's %, NumPy and the
    Array API's remainder). Gradients as torch's: g for a, -g * round(a / b) for b."""

    saved = (0, 1)

    def __init__(self, rounding: str, zero_sign: str) -> None:
        self.rounding = rounding
        self.zero_sign = zero_sign

    @property
    def name(self) -> str:
        return "remainder" if self.rounding == "floor" else "fmod"

    def _quotient(self, a: NDArray, b: NDArray) -> NDArray:
        q = a.binary("div", b)
        return q.unary("floor") if self.rounding == "floor" else _trunc_array(q)

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        r = a.binary("sub", self._quotient(a, b).binary("mul", b))
        a, b = a.astype(r.dtype), b.astype(r.dtype)  # (an integer operand beside a float one)
        over_infinity = (
            b.unary("abs").scalar_op("eq", math.inf)
            .binary("logical_and", a.binary("sub", a).scalar_op("eq", 0.0))
        )  # fmt: skip
        value: NDArray | float = a
        if self.rounding == "floor":
            differ = a.scalar_op("lt", 0.0).binary("ne", b.scalar_op("lt", 0.0))
            value = NDArray.where(differ.binary("logical_and", a.scalar_op("ne", 0.0)), b, a)
        r = NDArray.where(over_infinity, value, r)
        if self.zero_sign == "input":  # a is finite where r is 0: a * 0 is 0 with a's sign
            zero = a.scalar_op("mul", 0.0)
        else:  # b is not -0 where r is 0 (x % -0 is NaN)
            zero = NDArray.where(b.scalar_op("lt", 0.0), -0.0, 0.0).astype(r.dtype)
        return NDArray.where(r.scalar_op("eq", 0.0), zero, r)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = node._inputs
        grad_a = unbroadcast(g, a.shape).astype(a.dtype) if a.requires_grad else None
        grad_b = None
        if b.requires_grad:
            q = Tensor._wrap(self._quotient(a.detach().array, b.detach().array))
            grad_b = unbroadcast(-g * q, b.shape).astype(b.dtype)
        return grad_a, grad_b


def _reflected(op: Any) -> Any:
    return lambda self, other: op(_tensor(other, self), self)


Tensor.__floordiv__ = floor_divide  # type: ignore[method-assign]
Tensor.__rfloordiv__ = _reflected(floor_divide)  # type: ignore[attr-defined]
Tensor.__mod__ = remainder  # type: ignore[method-assign]
Tensor.__rmod__ = _reflected(remainder)  # type: ignore[attr-defined]
Tensor.__ifloordiv__ = Tensor.floor_divide_  # type: ignore[attr-defined]
Tensor.__imod__ = Tensor.remainder_  # type: ignore[attr-defined]


# --- logs, exponentials, powers ---------------------------------------------------------
@export(inplace_form=True)
def log2(input: Tensor) -> Tensor:  # noqa: A002
    return _float(input).log() * (1.0 / math.log(2.0))


@export(inplace_form=True)
def log10(input: Tensor) -> Tensor:  # noqa: A002
    return _float(input).log() * (1.0 / math.log(10.0))


@export(inplace_form=True)
def exp2(input: Tensor) -> Tensor:  # noqa: A002
    """2 ** x (exact at integers)."""
    return 2.0 ** _float(input)


@export(inplace_form=True)
def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return 1.0 / _float(input)


def _unary_composite(name: str) -> None:
    def function(input: Tensor) -> Tensor:  # noqa: A002
        return _composite(name, input)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name} (floating result; float64 to a few ulp)."
    export(function, inplace_form=True)


for _name in ("log1p", "expm1", "sinh", "cosh", "asinh", "acosh", "atanh", "atan", "asin",
              "acos"):  # fmt: skip
    _unary_composite(_name)
del _name


@export(inplace_form=True, aliases=("arctan2",))
def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point (other, input), in [-pi, pi]."""
    return _composite("atan2", input, _tensor(other, input))


@export(inplace_form=True)
def hypot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """sqrt(input^2 + other^2) without overflow."""
    return _composite("hypot", input, _tensor(other, input))


@export
def logaddexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """log(exp(input) + exp(other)) without overflow."""
    a, b = _float(input), _float(_tensor(other, input))
    high = a.maximum(b)
    finite = high + (-(a - b).abs()).exp().log1p()
    same_infinity = (a == b) & (high.abs() == math.inf)
    return where(same_infinity, high, finite)


# --- rounding ---------------------------------------------------------------------------
class Rounded(Op):
    """floor / trunc / round (half to even) of x, gradient zero (as torch)."""

    saved = ()

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @property
    def name(self) -> str:
        return self.mode

    def compute(self, x: NDArray) -> NDArray:
        if self.mode == "floor":
            return x.unary("floor")
        return _trunc_array(x) if self.mode == "trunc" else round_half_even(x)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return ew._zeros(g)


@export(inplace_form=True)
def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """Round toward zero."""
    return Rounded("trunc")(input)


@export(inplace_form=True)
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001,A002 - torch's name
    """Round half to even, at `decimals` digits after the point (negative: before it)."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): decimals must be an int, got {type(decimals).__name__}")
    if decimals == 0 or not input.dtype.is_floating:
        return Rounded("round")(input)
    scale = 10.0 ** abs(decimals)
    if decimals > 0:
        return Rounded("round")(input * scale) / scale
    return Rounded("round")(input / scale) * scale


@export(inplace_form=True)
def frac(input: Tensor) -> Tensor:  # noqa: A002
    """input - trunc(input), with input's sign; gradient 1."""
    return input - trunc(input)


# --- combinations -----------------------------------------------------------------------
@export(inplace_form=True)
def lerp(input: Tensor, end: Tensor, weight: Operand) -> Tensor:  # noqa: A002
    """input + weight * (end - input)."""
    return input + weight * (end - input)


@export(inplace_form=True)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Operand = 1) -> Tensor:  # noqa: A002
    """input + value * tensor1 * tensor2."""
    product = tensor1 * tensor2
    return input + (product if value == 1 else product * value)


@export(inplace_form=True)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Operand = 1) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2."""
    quotient = tensor1 / tensor2
    return input + (quotient if value == 1 else quotient * value)


@export(inplace_form=True)
def clamp_min(input: Tensor, min: Operand) -> Tensor:  # noqa: A002
    return input.clamp(min=min)


@export(inplace_form=True)
def clamp_max(input: Tensor, max: Operand) -> Tensor:  # noqa: A002
    return input.clamp(max=max)


# --- NaN and infinity -------------------------------------------------------------------
@export
def isnan(input: Tensor) -> Tensor:  # noqa: A002
    return input != input


@export
def isinf(input: Tensor) -> Tensor:  # noqa: A002
    if not input.dtype.is_floating:
        return Tensor._wrap(NDArray.full(input.shape, False, dt.bool_, input.device))
    return input.detach().abs() == math.inf


@export
def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    if not input.dtype.is_floating:
        return Tensor._wrap(NDArray.full(input.shape, True, dt.bool_, input.device))
    return input.detach().abs() < math.inf


@export(inplace_form=True)
def nan_to_num(
    input: Tensor,  # noqa: A002
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
) -> Tensor:
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite values
    unless given); the gradient flows where input is finite."""
    if not input.dtype.is_floating:
        return input.clone()
    top = _largest(input)
    high = top if posinf is None else posinf
    low = -top if neginf is None else neginf
    x = where(isnan(input), nan, input)
    x = where(input.detach() == math.inf, high, x)
    return where(input.detach() == -math.inf, low, x)


def _largest(x: Tensor) -> float:
    return float(np.finfo(x.dtype.numpy).max)


@export
def isclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (equal infinities are close; NaN
    only with equal_nan)."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose(): rtol and atol must be non-negative, got {rtol}, {atol}")
    a, b = input.detach(), _tensor(other, input).detach()
    if a.dtype is not b.dtype:
        common = dt.promote(a.dtype, b.dtype)
        a, b = a.astype(common), b.astype(common)
    if not a.dtype.is_floating:
        a, b = a.astype(dt.float64), b.astype(dt.float64)
    close = (a == b) | (((a - b).abs() <= atol + rtol * b.abs()) & isfinite(a) & isfinite(b))
    if equal_nan:
        close = close | (isnan(a) & isnan(b))
    return close


@export
def allclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> bool:
    """Whether isclose holds everywhere (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())
