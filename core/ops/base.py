"""The differentiable op: `compute()` on NDArrays, `gradient()` in Tensors."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ..autograd.grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor
    from ..ndarray import NDArray


_tensor_class: type = type(None)  # set to Tensor by plugrad.autograd.tensor (import cycle)
views: Any = None  # plugrad.autograd.views, set there (import cycle)


class Op(abc.ABC):
    """One node type of the graph. Subclasses set their parameters in __init__."""

    user_defined = False  # a custom Function, whose gradients may alias the user's tensors
    saved: tuple[int, ...] | None = None
    """Whose values gradient() reads: input positions, -1 for the output; None for all of them.
    Backward refuses to run when one of these was written in place after the op ran; the
    other inputs are read for their shape, dtype and device only."""

    @abc.abstractmethod
    def compute(self, *arrays: NDArray) -> NDArray:
        """The forward value from the inputs' arrays."""

    @abc.abstractmethod
    def gradient(self, out_grad: Tensor, node: Tensor) -> Tensor | tuple[Tensor | None, ...] | None:
        """The gradient for each input, given the output's gradient, built from Tensor ops."""

    def gradient_as_tuple(self, out_grad: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        grads = self.gradient(out_grad, node)
        return grads if isinstance(grads, tuple) else (grads,)

    def __call__(self, *inputs: Tensor) -> Tensor:
        # The hot path of every op: unrolled for the usual one or two inputs. An input that is
        # a view whose base was written in place since is first made a view of the new base.
        if len(inputs) == 1:
            (a,) = inputs
            if a._base is not None:
                views.refresh(a)
            array = self.compute(a.array)
            records = a.requires_grad
            if array.buffer is a.array.buffer:  # a view of a (or a itself): track its base
                out = (
                    _tensor_class._from_op(array, self, inputs)
                    if records and is_grad_enabled()
                    else _tensor_class._wrap(array)
                )
                views.track(out, a)
                return out
        elif len(inputs) == 2:
            a, b = inputs
            if a._base is not None:
                views.refresh(a)
            if b._base is not None:
                views.refresh(b)
            array = self.compute(a.array, b.array)
            records = a.requires_grad or b.requires_grad
        else:
            for t in inputs:
                if t._base is not None:
                    views.refresh(t)
            array = self.compute(*[t.array for t in inputs])
            records = any(t.requires_grad for t in inputs)
        if records and is_grad_enabled():
            return _tensor_class._from_op(array, self, inputs)
        return _tensor_class._wrap(array)

    @property
    def name(self) -> str:
        return type(self).__name__


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum `grad` over the dimensions that broadcasting added or stretched to reach `shape`."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and grad.shape[i + lead] != 1
    )
    reduced = grad.sum(axis=axes, keepdim=True) if axes else grad
    return reduced.reshape(shape)
