"""The differentiable op: `compute()` on NDArrays, `gradient()` in Tensors."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor
    from ..ndarray import NDArray


_tensor_class: type = type(None)  # set to Tensor by plugrad.autograd.tensor (import cycle)


class Op(abc.ABC):
    """One node type of the graph. Subclasses set their parameters in __init__."""

    user_defined = False  # a custom Function, whose gradients may alias the user's tensors

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
        # The hot path of every op: unrolled for the usual one or two inputs.
        if len(inputs) == 1:
            (a,) = inputs
            array = self.compute(a.array)
            records = a.requires_grad
        elif len(inputs) == 2:
            a, b = inputs
            array = self.compute(a.array, b.array)
            records = a.requires_grad or b.requires_grad
        else:
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
