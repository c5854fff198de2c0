"""Dropout and Dropout2d (whole channels): random zeroing in training, the identity in eval."""

from __future__ import annotations

from plugrad.autograd.tensor import Tensor
from plugrad.random import Generator, resolve

from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training.

    Each training forward draws one mask from `generator` (default: the global one, so
    `plugrad.manual_seed(n)` makes them reproducible); the masks are the same on every device.
    """

    def __init__(self, p: float = 0.5, *, generator: Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
        self.p = p
        self.generator = resolve(generator) if generator is not None else None

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability p while training (one draw per
    channel), scaling the rest by 1/(1-p)."""

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, generator: Generator | None = None
    ) -> None:
        super().__init__(p, generator=generator)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout2d(input, self.p, self.training, self.inplace, generator=self.generator)
