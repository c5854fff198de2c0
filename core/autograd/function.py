"""Custom differentiable operations, as torch.autograd.Function:

class Cube(plugrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x

y = Cube.apply(x)
"""

from __future__ import annotations

from typing import Any

from ..ops.base import Op
from .grad_mode import is_grad_enabled, no_grad
from .tensor import Tensor


class FunctionCtx:
    """What forward leaves for backward."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors: Tensor) -> None:
        self.saved_tensors = tensors


class _FunctionOp(Op):
    user_defined = True

    def __init__(self, function: type[Function], ctx: FunctionCtx, positions: list[int]) -> None:
        self.function, self.ctx, self.positions = function, ctx, positions

    @property
    def name(self) -> str:
        return self.function.__name__

    def compute(self, *arrays: Any) -> Any:
        raise RuntimeError("a custom Function runs its forward through Function.apply")

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        grads = self.function.backward(self.ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        count = len(self.ctx.needs_input_grad)
        if len(grads) != count:
            raise RuntimeError(
                f"{self.function.__name__}.backward returned {len(grads)} gradients, "
                f"but forward took {count} inputs"
            )
        picked = []
        for position, tensor in zip(self.positions, node._inputs):
            grad = grads[position]
            if grad is not None and grad.shape != tensor.shape:
                raise RuntimeError(
                    f"{self.function.__name__}.backward returned a gradient of shape "
                    f"{grad.shape} for an input of shape {tensor.shape}"
                )
            picked.append(grad)
        return tuple(picked)


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`; call `apply`."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Tensor:
        raise RuntimeError("a custom Function must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> Any:
        raise RuntimeError("a custom Function must define a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return one Tensor, got {type(out).__name__}"
            )
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = tuple(args[i] for i in positions)
        if is_grad_enabled() and any(t.requires_grad for t in inputs):
            return Tensor._from_op(out.array, _FunctionOp(cls, ctx, positions), inputs)
        return out
