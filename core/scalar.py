"""Scalar autograd, as the course's final review does it by hand.

x = Scalar(2.0, label="x")
z2 = x * x
z3 = z2 * z2
z3.topological_sort()   # [x, z2, z3]: each node after its inputs, the output last
z3.backward()
x.grad                  # 32.0
"""

from __future__ import annotations

import math
from collections.abc import Callable


class Scalar:
    """A number that remembers how it was computed."""

    __slots__ = ("data", "grad", "label", "op", "_inputs", "_local_grads")

    def __init__(
        self,
        data: float,
        label: str = "",
        *,
        _inputs: tuple[Scalar, ...] = (),
        _op: str = "",
        _local_grads: tuple[float, ...] = (),
    ) -> None:
        if isinstance(data, Scalar):
            raise TypeError("Scalar(data) takes a number; the Scalar is already one")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.op = _op
        self._inputs = _inputs
        self._local_grads = _local_grads  # d(self)/d(input) for each input, in order

    @property
    def inputs(self) -> tuple[Scalar, ...]:
        return self._inputs

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Scalar({name}{self.data:g}, grad={self.grad:g})"

    # --- arithmetic ----------------------------------------------------------------------
    @staticmethod
    def _lift(other: Scalar | float) -> Scalar:
        return other if isinstance(other, Scalar) else Scalar(other)

    def __add__(self, other: Scalar | float) -> Scalar:
        other = self._lift(other)
        return Scalar(
            self.data + other.data, _inputs=(self, other), _op="+", _local_grads=(1.0, 1.0)
        )

    def __mul__(self, other: Scalar | float) -> Scalar:
        other = self._lift(other)
        return Scalar(
            self.data * other.data, _inputs=(self, other), _op="*",
            _local_grads=(other.data, self.data),
        )  # fmt: skip

    def __pow__(self, exponent: float) -> Scalar:
        if isinstance(exponent, Scalar):
            raise TypeError("Scalar ** Scalar is not supported; use a number exponent or exp/log")
        value = self.data**exponent
        return Scalar(
            value, _inputs=(self,), _op=f"**{exponent:g}",
            _local_grads=(exponent * self.data ** (exponent - 1),),
        )  # fmt: skip

    def __neg__(self) -> Scalar:
        return self * -1.0

    def __sub__(self, other: Scalar | float) -> Scalar:
        other = self._lift(other)
        return Scalar(
            self.data - other.data, _inputs=(self, other), _op="-", _local_grads=(1.0, -1.0)
        )

    def __truediv__(self, other: Scalar | float) -> Scalar:
        other = self._lift(other)
        if other.data == 0.0:
            raise ZeroDivisionError("Scalar division by zero")
        return Scalar(
            self.data / other.data, _inputs=(self, other), _op="/",
            _local_grads=(1.0 / other.data, -self.data / other.data**2),
        )  # fmt: skip

    def __radd__(self, other: float) -> Scalar:
        return self._lift(other) + self

    def __rmul__(self, other: float) -> Scalar:
        return self._lift(other) * self

    def __rsub__(self, other: float) -> Scalar:
        return self._lift(other) - self

    def __rtruediv__(self, other: float) -> Scalar:
        return self._lift(other) / self

    def exp(self) -> Scalar:
        value = math.exp(self.data)
        return Scalar(value, _inputs=(self,), _op="exp", _local_grads=(value,))

    def log(self) -> Scalar:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive Scalar ({self.data})")
        return Scalar(
            math.log(self.data), _inputs=(self,), _op="log", _local_grads=(1.0 / self.data,)
        )

    def relu(self) -> Scalar:
        positive = self.data > 0
        return Scalar(
            self.data if positive else 0.0, _inputs=(self,), _op="relu",
            _local_grads=(1.0 if positive else 0.0,),
        )  # fmt: skip

    def tanh(self) -> Scalar:
        value = math.tanh(self.data)
        return Scalar(value, _inputs=(self,), _op="tanh", _local_grads=(1.0 - value * value,))

    # --- autograd ------------------------------------------------------------------------
    def topological_sort(self) -> list[Scalar]:
        """Depth-first from this node, inputs in order, each node appended after its inputs.

        Iterative (a stack of input iterators), so chains of any length fit in the stack."""
        order: list[Scalar] = []
        visited = {id(self)}
        stack = [(self, iter(self._inputs))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(child._inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    def backward(self, on_step: Callable[[Scalar], None] | None = None) -> None:
        """Set self.grad = 1 and walk the reversed topological order, adding each node's
        grad times its local derivatives into its inputs' grads. `on_step(node)` is called
        after each node is processed (to print the iterations as in the course)."""
        order = self.topological_sort()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node._inputs, node._local_grads):
                child.grad += node.grad * local
            if on_step is not None:
                on_step(node)
