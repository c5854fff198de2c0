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
    """What forward leaves for backward. Saved tensors are checked when backward reads them:
    one written in place since it was saved raises, as in torch."""

    def __init__(self) -> None:
        self._saved: tuple[Tensor | None, ...] = ()
        self._saved_versions: tuple[int, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward takes tensors (or None), got {type(t).__name__}; keep "
                    "other values as attributes of ctx"
                )
        self._saved = tensors
        self._saved_versions = tuple(-1 if t is None else t.array.version[0] for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        for i, (t, then) in enumerate(zip(self._saved, self._saved_versions)):
            if t is not None and t.array.version[0] != then:
                raise RuntimeError(
                    f"saved tensor {i} (shape {t.shape}) of a custom Function was modified in "
                    f"place: version {then} then {t.array.version[0]}; save a .clone() instead"
                )
        return self._saved


class _FunctionOp(Op):
    user_defined = True
    saved = ()  # FunctionCtx.saved_tensors checks what backward reads

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
            picked.append(None if grad is None else self._checked(grad, tensor, position))
        return tuple(picked)

    def _checked(self, grad: Any, tensor: Tensor, position: int) -> Tensor:
        """What backward returned for one input, as a gradient that can join the graph: of
        the input's shape, device and dtype (a floating one is cast, as torch does)."""
        what = (
            f"{self.function.__name__}.backward returned for input {position} (shape "
            f"{tensor.shape}, {tensor.dtype.name} on {tensor.device.name})"
        )
        if not isinstance(grad, Tensor):
            raise TypeError(f"{what} a {type(grad).__name__}; return a Tensor or None")
        if grad.shape != tensor.shape:
            raise RuntimeError(f"{what} a gradient of shape {grad.shape}; it must match")
        if grad.device is not tensor.device:
            raise RuntimeError(
                f"{what} a gradient on {grad.device.name}; return it on the input's device "
                f"(.to({tensor.device.name!r}))"
            )
        if not grad.dtype.is_floating:
            raise TypeError(
                f"{what} a gradient of dtype {grad.dtype.name}; gradients are floating point "
                f"(return .to({tensor.dtype.name!r}) of it if that is what you meant)"
            )
        return grad if grad.dtype is tensor.dtype else grad.astype(tensor.dtype)


RETURNED_INPUT = (
    "the output of a custom Function shares memory with one of its inputs and is written in "
    "place; that would bypass the Function's backward. Return a .clone() from forward, or "
    "write into a clone of the output"
)


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
            result = Tensor._from_op(out.array, _FunctionOp(cls, ctx, positions), inputs)
            for t in inputs:
                if out.array.buffer is t.array.buffer:  # forward returned (a view of) an input
                    root = t if t._base is None else t._base[0]
                    result._base = (root, root._meta.since if root._meta else 0, RETURNED_INPUT)
            return result
        return out
