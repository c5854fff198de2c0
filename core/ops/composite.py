"""Elementwise functions composed from the protocol's kernels, with analytic gradients.

The forward value is a short chain of existing kernels (NDArray calls), so no backend needs a
new kernel; the gradient is the closed form in Tensor ops, free of the NaN that
differentiating through the chain's branches would give. One table entry per function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import ml_dtypes

from .. import dtypes as dt
from ..ndarray import NDArray
from .base import Op, unbroadcast

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

_HALF_PI = math.pi / 2


def _where(cond: NDArray, a: NDArray | float, b: NDArray | float) -> NDArray:
    return NDArray.where(cond, a, b)


def _huge(dtype: dt.DType) -> float:
    """A magnitude past which x^2 may overflow in `dtype` (1e150 would be inf in float32)."""
    return math.sqrt(float(ml_dtypes.finfo(dtype.numpy).max)) / 4


def _sign_bit(x: NDArray) -> NDArray:
    """Whether x's sign bit is set (NumPy's signbit, NaN aside): x < 0, or x is -0 (1 / -0 is
    -inf). The composites below carry a -0 through by it, as torch and the standard do."""
    return x.scalar_op("lt", 0.0).binary(
        "logical_or", x.scalar_op("div", 1.0, reflected=True).scalar_op("lt", 0.0)
    )


def _with_sign_of(magnitude: NDArray, x: NDArray) -> NDArray:
    """|magnitude| with x's sign bit (copysign); NaN stays NaN."""
    a = magnitude.unary("abs")
    return _where(_sign_bit(x), a.unary("neg"), a)


def log1p(x: NDArray) -> NDArray:
    """log(1 + x) to a few ulp near 0: log(u) * x / (u - 1) with u = 1 + x rounded (Goldberg)."""
    u = x.scalar_op("add", 1.0)
    d = u.scalar_op("sub", 1.0)
    exact = d.scalar_op("eq", 0.0)
    safe = _where(exact, 1.0, d)
    ratio = u.unary("log").binary("mul", x.binary("div", safe))
    return _where(exact, x, _where(u.scalar_op("eq", math.inf), u, ratio))


def expm1(x: NDArray) -> NDArray:
    """exp(x) - 1 to a few ulp near 0: 2t / (1 - t), t = tanh(x / 2), where |x| < 0.5."""
    t = x.scalar_op("maximum", -0.5).scalar_op("minimum", 0.5).scalar_op("mul", 0.5).unary("tanh")
    small = t.scalar_op("mul", 2.0).binary("div", t.scalar_op("sub", 1.0, reflected=True))
    large = x.unary("exp").scalar_op("sub", 1.0)
    return _where(x.unary("abs").scalar_op("lt", 0.5), small, large)


def sinh(x: NDArray) -> NDArray:
    return expm1(x).binary("sub", expm1(x.unary("neg"))).scalar_op("mul", 0.5)


def cosh(x: NDArray) -> NDArray:
    # exp(|x| / 2) squared in halves: finite wherever cosh is (|x| up to ~710 in float64)
    h = x.unary("abs").scalar_op("mul", 0.5).unary("exp")
    return (
        h.scalar_op("mul", 0.5)
        .binary("mul", h)
        .binary("add", h.binary("mul", h).scalar_op("div", 0.5, reflected=True))
    )


def asinh(x: NDArray) -> NDArray:
    """sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2))); log(2|x|) once x^2 would overflow."""
    a = x.unary("abs")
    a2 = a.binary("mul", a)
    inner = a.binary(
        "add", a2.binary("div", a2.scalar_op("add", 1.0).unary("sqrt").scalar_op("add", 1.0))
    )
    big = a.scalar_op("gt", _huge(x.dtype))
    value = _where(big, a.unary("log").scalar_op("add", math.log(2.0)), log1p(inner))
    return _where(_sign_bit(x), value.unary("neg"), value)  # asinh(-0) is -0


def acosh(x: NDArray) -> NDArray:
    """log1p(t + sqrt(t (t + 2))), t = x - 1 (exact near 1); log(2x) for huge x."""
    t = x.scalar_op("sub", 1.0)
    root = t.binary("mul", t.scalar_op("add", 2.0)).unary("sqrt")
    big = x.scalar_op("gt", _huge(x.dtype))
    value = _where(
        big, x.unary("log").scalar_op("add", math.log(2.0)), log1p(t.binary("add", root))
    )
    return _where(x.scalar_op("lt", 1.0), math.nan, value)


def atanh(x: NDArray) -> NDArray:
    """0.5 log1p(2x / (1 - x))."""
    ratio = x.scalar_op("mul", 2.0).binary("div", x.scalar_op("sub", 1.0, reflected=True))
    return log1p(ratio).scalar_op("mul", 0.5)


def atan(x: NDArray) -> NDArray:
    """atan by Newton's method on tan(y) = r for |r| <= 1 (r = x or 1/x), from a guess within
    2e-3 rad: three steps y -= sin(y) cos(y) - r cos(y)^2 reach full float64 precision."""
    a = x.unary("abs")
    inverted = a.scalar_op("gt", 1.0)
    r = _where(inverted, a.scalar_op("div", 1.0, reflected=True), a)
    # guess: pi/4 r - r (r - 1)(0.2447 + 0.0663 r)
    y = r.scalar_op("mul", math.pi / 4).binary(
        "sub",
        r.binary("mul", r.scalar_op("sub", 1.0)).binary(
            "mul", r.scalar_op("mul", 0.0663).scalar_op("add", 0.2447)
        ),
    )
    for _ in range(3):
        s, c = y.unary("sin"), y.unary("cos")
        y = y.binary("sub", s.binary("mul", c)).binary("add", r.binary("mul", c.binary("mul", c)))
    y = _where(inverted, y.scalar_op("sub", _HALF_PI, reflected=True), y)
    y = _where(_sign_bit(x), y.unary("neg"), y)  # atan(-0) is -0
    return _where(x.binary("ne", x), x, y)  # NaN stays NaN


def atan2(y: NDArray, x: NDArray) -> NDArray:
    """The angle of (x, y) in [-pi, pi]: atan(y / x) moved into x's half-plane (y / x taken as
    sign(y) / sign(x) when both are infinite, and y / 1 at the origin). The half-planes go by
    the sign bits, so signed zeros give C's (and torch's, the standard's) special values:
    atan2(-0, +0) = -0, atan2(+0, -0) = pi, atan2(-0, -0) = -pi, atan2(-1, inf) = -0."""
    both_zero = y.scalar_op("eq", 0.0).binary("logical_and", x.scalar_op("eq", 0.0))
    both_inf = (
        y.unary("abs")
        .scalar_op("eq", math.inf)
        .binary("logical_and", x.unary("abs").scalar_op("eq", math.inf))
    )
    ratio = _where(
        both_inf,
        y.unary("sign").binary("div", x.unary("sign")),
        y.binary("div", _where(both_zero, 1.0, x)),
    )
    base = atan(ratio)
    # scalars join base's dtype through scalar_op (a where of two Python floats is float32)
    shifted = _where(_sign_bit(y), base.scalar_op("sub", math.pi), base.scalar_op("add", math.pi))
    return _where(_sign_bit(x), shifted, base)


def asin(x: NDArray) -> NDArray:
    return atan2(x, _cosine_side(x))


def acos(x: NDArray) -> NDArray:
    return atan2(_cosine_side(x), x)


def _cosine_side(x: NDArray) -> NDArray:
    """sqrt((1 - x)(1 + x)): sqrt(1 - x^2) without the cancellation near |x| = 1."""
    one_minus = x.scalar_op("sub", 1.0, reflected=True)
    return one_minus.binary("mul", x.scalar_op("add", 1.0)).unary("sqrt")


def trunc(x: NDArray) -> NDArray:
    if not x.dtype.is_floating:
        return x.copy()
    return _where(x.scalar_op("lt", 0.0), x.unary("ceil"), x.unary("floor"))


def round_half_even(x: NDArray) -> NDArray:
    """Round to the nearest integer, ties to even (torch.round, NumPy's rint); exact, since
    x - floor(x) is exact."""
    if not x.dtype.is_floating:
        return x.copy()
    f = x.unary("floor")
    d = x.binary("sub", f)
    odd = f.binary("sub", f.scalar_op("mul", 0.5).unary("floor").scalar_op("mul", 2.0))
    up = _where(d.scalar_op("gt", 0.5), 1.0, _where(d.scalar_op("eq", 0.5), odd, 0.0))
    rounded = f.binary("add", up.astype(f.dtype) if up.dtype is not f.dtype else up)
    return _with_sign_of(rounded, x)  # round(-0) and round(-0.25) are -0, as torch's


def hypot(a: NDArray, b: NDArray) -> NDArray:
    """sqrt(a^2 + b^2) scaled by the larger magnitude, so it neither overflows nor underflows."""
    x, y = a.unary("abs"), b.unary("abs")
    big, small = x.binary("maximum", y), x.binary("minimum", y)
    zero = big.scalar_op("eq", 0.0)
    q = small.binary("div", _where(zero, 1.0, big))
    value = big.binary("mul", q.binary("mul", q).scalar_op("add", 1.0).unary("sqrt"))
    return _where(big.scalar_op("eq", math.inf), big, value)


class Rule(NamedTuple):
    compute: Callable[..., NDArray]
    gradient: Callable[..., tuple]  # (g, inputs..., output) -> gradient per input
    saved: tuple[int, ...]


def _g(fn: Callable[..., Tensor]) -> Callable[..., tuple]:
    return lambda g, x, y: (fn(g, x, y),)


RULES: dict[str, Rule] = {
    "log1p": Rule(log1p, _g(lambda g, x, y: g / (x + 1.0)), (0,)),
    "expm1": Rule(expm1, _g(lambda g, x, y: g * (y + 1.0)), (-1,)),
    "sinh": Rule(sinh, _g(lambda g, x, y: g * x.cosh()), (0,)),
    "cosh": Rule(cosh, _g(lambda g, x, y: g * x.sinh()), (0,)),
    "asinh": Rule(asinh, _g(lambda g, x, y: g * (x * x + 1.0).rsqrt()), (0,)),
    "acosh": Rule(acosh, _g(lambda g, x, y: g * (x * x - 1.0).rsqrt()), (0,)),
    "atanh": Rule(atanh, _g(lambda g, x, y: g / (1.0 - x * x)), (0,)),
    "atan": Rule(atan, _g(lambda g, x, y: g / (x * x + 1.0)), (0,)),
    "asin": Rule(asin, _g(lambda g, x, y: g * (1.0 - x * x).rsqrt()), (0,)),
    "acos": Rule(acos, _g(lambda g, x, y: -g * (1.0 - x * x).rsqrt()), (0,)),
    "atan2": Rule(atan2, lambda g, y, x, out: (g * x / (x * x + y * y),
                                               -g * y / (x * x + y * y)), (0, 1)),
    "hypot": Rule(hypot, lambda g, a, b, out: _hypot_gradient(g, a, b), (0, 1)),
}  # fmt: skip


def _hypot_gradient(g: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """g a / hypot(a, b) and g b / hypot(a, b), recomputing hypot from the inputs (so a later
    in-place write into the output does not void the gradient)."""
    scale = g / a.hypot(b)
    return scale * a, scale * b


class Composite(Op):
    """One function of RULES over one or two (broadcast) floating tensors."""

    def __init__(self, function: str) -> None:
        self.function = function
        self.rule = RULES[function]

    @property
    def saved(self) -> tuple[int, ...]:  # type: ignore[override]
        return self.rule.saved

    @property
    def name(self) -> str:
        return self.function

    def compute(self, *arrays: NDArray) -> NDArray:
        return self.rule.compute(*arrays)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        inputs = node._inputs
        grads = self.rule.gradient(g, *inputs, node)
        return tuple(
            None if not x.requires_grad else unbroadcast(grad, x.shape)
            for grad, x in zip(grads, inputs)
        )
