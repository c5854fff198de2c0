"""Norms, similarities and distances along a dimension: normalize, cosine_similarity,
pairwise_distance (torch.nn.functional's names and formulas), as composites of Tensor ops."""

from __future__ import annotations

import math

from plugrad.amp.casting import autocast_op
from plugrad.autograd.tensor import Tensor, where
from plugrad.shapes import broadcast_shapes

__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]


def vector_norm(x: Tensor, p: float = 2.0, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The p-norm along dim (all dimensions when None): (sum |x|^p)^(1/p), max |x| for inf,
    min |x| for -inf, the count of non-zeros for 0. At a zero vector the gradient is 0 (torch's
    subgradient) rather than the 0/0 of the formula."""
    if p == 0:
        return (x != 0).astype(x.dtype).sum(dim, keepdim=keepdim)
    magnitude = x.abs()
    if p == math.inf:
        return magnitude.amax(dim, keepdim=keepdim)
    if p == -math.inf:
        return magnitude.amin(dim, keepdim=keepdim)
    if p == 1:
        return magnitude.sum(dim, keepdim=keepdim)
    total = (x * x if p == 2 else magnitude**p).sum(dim, keepdim=keepdim)
    positive = total > 0
    safe = where(positive, total, 1.0)  # keeps the root's gradient finite where total is 0
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(positive, root, 0.0)


def _clamped_without_gradient(norm: Tensor, eps: float) -> Tensor:
    """max(norm, eps) whose gradient is norm's: torch clamps these norms under no_grad."""
    return norm + (norm.detach().clamp(min=eps) - norm.detach())


def normalize(
    input: Tensor,  # noqa: A002
    p: float = 2.0,
    dim: int = 1,
    eps: float = 1e-12,
    out: Tensor | None = None,
) -> Tensor:
    """x / max(||x||_p, eps) along dim (rows of a (N, D) input by default)."""
    result = input / vector_norm(input, p, dim, keepdim=True).clamp(min=eps)
    return result if out is None else out.copy_(result)


@autocast_op("cosine_similarity")
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim, after broadcasting
    x1 and x2; each is divided by its norm first, which keeps the result in [-1, 1]."""
    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    n1 = _clamped_without_gradient(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamped_without_gradient(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """||x1 - x2 + eps||_p along the last dimension (rows of (N, D) inputs; either may
    broadcast)."""
    last = max(x1.ndim, x2.ndim) - 1
    diff = x1 - x2 + eps
    return vector_norm(diff, p, last if last >= 0 else None, keepdim)
