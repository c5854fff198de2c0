"""Softmax cross-entropy as one node, for the common case (logits (N, C), int64 targets (N,),
mean or sum): one fused kernel forward and one backward where the backend has them
(`plugrad.ops.fused`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autograd.grad_mode import is_grad_enabled
from ..ndarray import NDArray
from . import fused
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class CrossEntropy(Op):
    """-mean_i log_softmax(logits)[i, target_i] (or the sum). The targets are an input without
    gradient; one outside [0, C) raises IndexError before anything is recorded."""

    saved = (0, 1)

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction
        self.log_probs: NDArray | None = None

    def _scale(self, n: int) -> float:
        return 1.0 / n if self.reduction == "mean" else 1.0

    def compute(self, logits: NDArray, target: NDArray) -> NDArray:
        logits._same_device(target)
        self.log_probs, loss = fused.cross_entropy(logits, target, self._scale(logits.shape[0]))
        return loss

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, None]:
        logits, target = node._inputs
        scale = self._scale(logits.shape[0])
        if is_grad_enabled() or self.log_probs is None:
            # create_graph: build the gradient from differentiable ops (second derivatives)
            from ..autograd.tensor import one_hot

            hot = one_hot(target, logits.shape[1]).astype(logits.dtype)
            return (logits.softmax(1) - hot) * (g * scale), None
        from ..autograd.tensor import Tensor as TensorClass

        grad = fused.cross_entropy_backward(self.log_probs, target.array, g.array, scale)
        return TensorClass._wrap(grad), None
