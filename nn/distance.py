"""CosineSimilarity and PairwiseDistance as modules (see functional_distance)."""

from __future__ import annotations

from plugrad.autograd.tensor import Tensor

from . import functional_distance as D
from .module import Module


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along dim: (N, D) x (N, D) -> (N,) by default."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return D.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dimension: (N, D) x (N, D) -> (N,)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return D.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
