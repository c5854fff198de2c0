"""Elementwise ops and their gradients: arithmetic, activations, comparisons' friends."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from . import base, fused
from .base import Op, unbroadcast

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


# What each op's gradient reads (Op.saved): input positions, -1 for the output.
_BINARY_SAVED = {"add": (), "sub": (), "mul": (0, 1), "div": (0, 1), "pow": (0, 1, -1),
                 "maximum": (0, 1), "minimum": (0, 1)}  # fmt: skip
_UNARY_SAVED = {"neg": (), "exp": (-1,), "log": (0,), "sqrt": (-1,), "abs": (0,),
                "tanh": (-1,), "sigmoid": (-1,), "relu": (-1,), "sin": (0,), "cos": (0,),
                "erf": (0,), "sign": (), "floor": (), "ceil": ()}  # fmt: skip


class Binary(Op):
    """`a op b` for two tensors, broadcast."""

    def __init__(self, op: str) -> None:
        self.op = op

    @property
    def saved(self) -> tuple[int, ...] | None:  # type: ignore[override]
        return _BINARY_SAVED.get(self.op)

    @property
    def name(self) -> str:
        return self.op

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        return a.binary(self.op, b)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = node._inputs
        op = self.op
        if op == "add":
            ga, gb = g, g
        elif op == "sub":
            ga, gb = g, -g
        elif op == "mul":
            ga, gb = g * b, g * a
        elif op == "div":
            ga = g / b
            gb = -g * a / (b * b)
        elif op == "pow":
            ga = _pow_base_gradient(g, a, b) if a.requires_grad else None
            gb = _pow_exponent_gradient(g, a, b, node) if b.requires_grad else None
        elif op in ("maximum", "minimum"):
            ga, gb = _pick_gradient(op, g, a, b), _pick_gradient(op, g, b, a)
        else:
            raise RuntimeError(f"{op} is not differentiable")
        return (
            None if ga is None else unbroadcast(ga, a.shape),
            None if gb is None else unbroadcast(gb, b.shape),
        )


class Scalar(Op):
    """`x op c`, or `c op x` when reflected, for a Python number c."""

    def __init__(self, op: str, value: float | int | bool, reflected: bool = False) -> None:
        self.op = op
        self.value = value
        self.reflected = reflected

    @property
    def saved(self) -> tuple[int, ...] | None:  # type: ignore[override]
        if self.op in ("add", "sub", "mul"):
            return ()
        if self.op == "div":
            return (0,) if self.reflected else ()
        if self.op == "pow":  # c ** x reads x where c == 0 (is x >= 0?)
            return ((0, -1) if self.value == 0 else (-1,)) if self.reflected else (0,)
        return (0,) if self.op in ("maximum", "minimum") else None

    @property
    def name(self) -> str:
        return f"{self.op}({self.value})" if not self.reflected else f"r{self.op}({self.value})"

    def compute(self, x: NDArray) -> NDArray:
        return x.scalar_op(self.op, self.value, self.reflected)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        c, op = self.value, self.op
        if op == "add":
            return g
        if op == "sub":
            return -g if self.reflected else g
        if op == "mul":
            return g * c
        if op == "div":
            return -g * c / (x * x) if self.reflected else g / c
        if op == "pow":
            if self.reflected:
                return _pow_exponent_gradient(g, c, x, node)
            return g * c * x ** (c - 1) if c != 0 else _zeros(g)
        if op in ("maximum", "minimum"):
            return _pick_gradient(op, g, x, c)
        raise RuntimeError(f"{op} with a scalar is not differentiable")


class Unary(Op):
    def __init__(self, op: str) -> None:
        self.op = op

    @property
    def saved(self) -> tuple[int, ...] | None:  # type: ignore[override]
        return _UNARY_SAVED.get(self.op)

    @property
    def name(self) -> str:
        return self.op

    def compute(self, x: NDArray) -> NDArray:
        out = x.unary(self.op)
        if self.op == "sign" and out.dtype.is_floating:
            # sign(-0) is +0 on every backend, as torch's and NumPy's (C's kernel gives -0)
            return out.scalar_op("add", 0.0)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        op = self.op
        if op == "neg":
            return -g
        if op == "exp":
            return g * node
        if op == "log":
            return g / x
        if op == "sqrt":
            return g / (node * 2.0)
        if op == "abs":
            return g * x.sign()
        if op == "tanh":
            return g * (1.0 - node * node)
        if op == "sigmoid":
            return g * node * (1.0 - node)
        if op == "relu":
            if is_grad_enabled():  # create_graph: stay differentiable
                return g * node.sign()
            return base._tensor_class._wrap(fused.relu_backward(g.array, node.array))

        if op == "sin":
            return g * x.cos()
        if op == "cos":
            return -g * x.sin()
        if op == "erf":
            return g * (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp()
        if op in ("sign", "floor", "ceil"):
            return _zeros(g)
        raise RuntimeError(f"{op} is not differentiable")


class Gelu(Op):
    """GELU: x * Phi(x) exactly (erf), or torch's tanh approximation."""

    saved = (0,)

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def compute(self, x: NDArray) -> NDArray:
        if self.approximate == "tanh":
            inner = x.binary("add", x.binary("mul", x).binary("mul", x).scalar_op("mul", 0.044715))
            t = inner.scalar_op("mul", math.sqrt(2.0 / math.pi)).unary("tanh")
            return x.binary("mul", t.scalar_op("add", 1.0)).scalar_op("mul", 0.5)
        cdf = x.scalar_op("mul", 1.0 / math.sqrt(2.0)).unary("erf").scalar_op("add", 1.0)
        return x.binary("mul", cdf).scalar_op("mul", 0.5)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        if self.approximate == "tanh":
            k = math.sqrt(2.0 / math.pi)
            t = ((x + x * x * x * 0.044715) * k).tanh()
            dt = (1.0 - t * t) * k * (1.0 + x * x * (3 * 0.044715))
            return g * (0.5 * (1.0 + t) + 0.5 * x * dt)
        cdf = 0.5 * (1.0 + (x * (1.0 / math.sqrt(2.0))).erf())
        pdf = (-(x * x) * 0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))
        return g * (cdf + x * pdf)


class Clamp(Op):
    """Clip to [low, high] (either may be None); gradient 1 inside the closed interval."""

    saved = (0,)

    def __init__(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high

    def compute(self, x: NDArray) -> NDArray:
        if self.low is not None:
            x = x.scalar_op("maximum", self.low)
        if self.high is not None:
            x = x.scalar_op("minimum", self.high)
        return x

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        inside = None
        if self.low is not None:
            inside = x >= self.low
        if self.high is not None:
            upper = x <= self.high
            inside = upper if inside is None else inside & upper
        return g if inside is None else g * inside.astype(g.dtype)


class Where(Op):
    """`a if cond else b`; cond is an input without gradient."""

    saved = (0,)

    def compute(self, cond: NDArray, a: NDArray, b: NDArray) -> NDArray:
        return NDArray.where(cond, a, b)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[None, Tensor, Tensor]:
        cond, a, b = node._inputs
        zero = g * 0.0
        from ..autograd.tensor import where

        return (
            None,
            unbroadcast(where(cond, g, zero), a.shape),
            unbroadcast(where(cond, zero, g), b.shape),
        )


class Cast(Op):
    saved = ()

    def __init__(self, dtype: object) -> None:
        self.dtype = dtype

    def compute(self, x: NDArray) -> NDArray:
        return x.astype(self.dtype)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor | None:
        (x,) = node._inputs
        return g.astype(x.dtype) if x.dtype.is_floating else None


def _zeros(g: Tensor) -> Tensor:
    """A zero gradient of g's shape that does not depend on g's values (g * 0 would be NaN
    where g is infinite); torch returns zeros for these."""
    return base._tensor_class._wrap(NDArray.full(g.shape, 0, g.dtype, g.device))


def _pick_gradient(op: str, g: Tensor, x: Tensor, other: Tensor | float) -> Tensor:
    """maximum / minimum's gradient for x, as torch's: all of g where x wins or where either
    is NaN (no comparison holds), half on a tie, none where x loses."""
    loses = (x < other) if op == "maximum" else (x > other)
    share = (x == other).astype(g.dtype) * -0.5 + 1.0
    return g * share * loses.logical_not().astype(g.dtype)


def _pow_base_gradient(g: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """d(a ** b)/da for a tensor exponent: b * a ** (b - 1), and 0 where b == 0 (torch), so
    0 ** 0 does not give 0 * inf."""
    from ..autograd.tensor import where

    return where(b == 0, 0.0, g * b * a ** (b - 1))


def _pow_exponent_gradient(g: Tensor, a: Tensor | float, b: Tensor, node: Tensor) -> Tensor:
    """d(a ** b)/db = a ** b * log(a), with torch's value 0 where a == 0 and b >= 0 (0 ** b is
    flat there); a negative base gives NaN, as log does."""
    from ..autograd.tensor import where

    if not isinstance(a, base._tensor_class):
        if a > 0:
            return g * node * math.log(a)
        log = float("-inf") if a == 0 else float("nan")
        rate = node * log
        return g * where(b >= 0, 0.0, rate) if a == 0 else g * rate
    return g * where((a == 0) & (b >= 0), 0.0, node * a.log())
