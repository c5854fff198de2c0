"""Batch normalization with batch statistics as one node: the forward on arrays, and the
standard closed-form backward (on arrays; from differentiable tensor ops under create_graph).

For x (N, C, *) with M = N * prod(*) values per channel, xhat = (x - mean) * invstd and
out = xhat * weight + bias, the gradients are

    d bias = sum(g),  d weight = sum(g * xhat)    (over every axis but C)
    d x = weight * invstd * (g - d bias / M - xhat * d weight / M)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class BatchNormTrain(Op):
    """(x, [weight], [bias]) -> batch-normalized x; the biased batch mean and variance stay on
    the op (`mean`, `var`, each (C,)) for the running statistics."""

    def __init__(self, eps: float, has_weight: bool, has_bias: bool) -> None:
        self.eps, self.has_weight, self.has_bias = eps, has_weight, has_bias
        # Without weight and bias the output is xhat itself: backward reads it too.
        self.saved = (0, 1) if has_weight else (0,) if has_bias else (0, -1)
        self.xhat: NDArray | None = None
        self.invstd: NDArray | None = None
        self.mean: NDArray | None = None
        self.var: NDArray | None = None

    @property
    def name(self) -> str:
        return "batch_norm"

    @staticmethod
    def _axes(ndim: int) -> tuple[int, ...]:
        return (0,) + tuple(range(2, ndim))

    def compute(self, x: NDArray, *affine: NDArray) -> NDArray:
        axes = self._axes(x.ndim)
        channels = x.shape[1]
        shape = (1, channels) + (1,) * (x.ndim - 2)
        inv_count = 1.0 / (x.size // channels)
        mean = x.reduce("sum", axes, True).scalar_op("mul", inv_count)
        centered = x.binary("sub", mean)
        var = centered.binary("mul", centered).reduce("sum", axes, True).scalar_op("mul", inv_count)
        invstd = var.scalar_op("add", float(self.eps)).unary("sqrt")
        invstd.scalar_op("div", 1.0, reflected=True, out=invstd)
        xhat = centered.binary("mul", invstd, out=centered)
        self.xhat, self.invstd = xhat, invstd
        self.mean, self.var = mean.reshape(channels), var.reshape(channels)
        rest = list(affine)
        out = xhat
        if self.has_weight:
            out = xhat.binary("mul", rest.pop(0).reshape(*shape))
        if self.has_bias:
            bias = rest.pop(0).reshape(*shape)
            out = out.binary("add", bias, out=out) if out is not xhat else out.binary("add", bias)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, ...]:
        inputs = node._inputs
        x = inputs[0]
        weight = inputs[1] if self.has_weight else None
        bias = inputs[-1] if self.has_bias else None
        axes = self._axes(x.ndim)
        channels = x.shape[1]
        shape = (1, channels) + (1,) * (x.ndim - 2)
        count = x.numel() // channels
        if is_grad_enabled() or self.xhat is None:
            return self._differentiable(g, x, weight, bias, axes, shape, count)
        from ..autograd.tensor import Tensor as TensorClass

        wrap = TensorClass._wrap
        ga = g.array
        if ga.dtype is not x.dtype:
            ga = ga.astype(x.dtype)
        xhat = self.xhat
        grad_bias = ga.reduce("sum", axes, True)
        grad_weight = ga.binary("mul", xhat).reduce("sum", axes, True)
        grads: list[Tensor | None] = []
        if x.requires_grad:
            inv_count = 1.0 / count
            coef = self.invstd
            if weight is not None:
                coef = coef.binary("mul", weight.array.reshape(*shape))
            t = xhat.binary("mul", grad_weight.scalar_op("mul", inv_count))
            t.binary("add", grad_bias.scalar_op("mul", inv_count), out=t)
            ga.binary("sub", t, out=t)
            grads.append(wrap(t.binary("mul", coef, out=t)))
        else:
            grads.append(None)
        if weight is not None:
            grads.append(wrap(grad_weight.reshape(channels)) if weight.requires_grad else None)
        if bias is not None:
            grads.append(wrap(grad_bias.reshape(channels)) if bias.requires_grad else None)
        return tuple(grads)

    def _differentiable(self, g, x, weight, bias, axes, shape, count):  # noqa: ANN001, ANN202
        """The same gradients from tensor ops (recorded when grad mode is on: create_graph)."""
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdim=True)
        invstd = (var + self.eps).rsqrt()
        xhat = centered * invstd
        grad_bias = g.sum(axes, keepdim=True)
        grad_weight = (g * xhat).sum(axes, keepdim=True)
        coef = invstd if weight is None else invstd * weight.reshape(shape)
        grad_x = (g - grad_bias * (1.0 / count) - xhat * (grad_weight * (1.0 / count))) * coef
        grads: list[Tensor | None] = [grad_x if x.requires_grad else None]
        if weight is not None:
            grads.append(grad_weight.reshape(x.shape[1]) if weight.requires_grad else None)
        if bias is not None:
            grads.append(grad_bias.reshape(x.shape[1]) if bias.requires_grad else None)
        return tuple(grads)
