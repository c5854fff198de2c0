"""Linear solves as graph ops: solve, inv and cholesky, batched over leading dimensions.

Forward values come from `plugrad.linalg.kernels` (the backend's kernel or the host
fallback); gradients are torch's formulas written in Tensor ops, so they are differentiable
again (create_graph) and run on the tensor's device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..linalg import kernels
from ..ndarray import NDArray
from ..shapes import prod
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

SINGULAR = "The solver failed because the input matrix is singular."


def stacked(a: NDArray) -> NDArray:
    """(*, m, n) -> (B, m, n): a view where strides allow."""
    return a.reshape((prod(a.shape[:-2]),) + a.shape[-2:])


def eye(n: int, like: NDArray) -> NDArray:
    return NDArray.from_numpy(np.eye(n, dtype=like.dtype.numpy), like.device)


class Solve(Op):
    """X with A X = B: A (*, n, n) and B (*, n, k) of one batch shape."""

    saved = (0, -1)

    def __init__(self, fn: str = "linalg.solve") -> None:
        self.fn = fn

    @property
    def name(self) -> str:
        return "linalg_solve"

    def compute(self, a: NDArray, b: NDArray) -> NDArray:
        out, info = kernels.solve(stacked(a), stacked(b))
        kernels.raise_for(self.fn, info, a.shape[:-2], lambda _: SINGULAR)
        return out.reshape(b.shape)

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor | None, Tensor]:
        a, b = node._inputs
        gb = Solve(self.fn)(a.mT, g)  # A^-T g
        ga = -(gb @ node.mT) if a.requires_grad else None
        return ga, gb


class Inv(Op):
    """A^-1 for A (*, n, n), by solving A X = I."""

    saved = (-1,)

    @property
    def name(self) -> str:
        return "linalg_inv"

    def compute(self, a: NDArray) -> NDArray:
        n = a.shape[-1]
        a3 = stacked(a)
        identity = eye(n, a)._broadcast_view(a3.shape)
        out, info = kernels.solve(a3, identity)
        kernels.raise_for("linalg.inv", info, a.shape[:-2], lambda _: SINGULAR)
        return out.reshape(a.shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        inverse_t = node.mT
        return -(inverse_t @ g @ inverse_t)


class Cholesky(Op):
    """The lower factor L of A = L L^T (A's lower triangle is read), (*, n, n)."""

    saved = (-1,)

    @property
    def name(self) -> str:
        return "linalg_cholesky"

    def compute(self, a: NDArray) -> NDArray:
        out, info = kernels.cholesky(stacked(a))
        kernels.raise_for(
            "linalg.cholesky", info, a.shape[:-2],
            lambda k: "The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {k} is not positive-definite).",
        )  # fmt: skip
        return out.reshape(a.shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        # torch's cholesky_backward (Murray 2016): A's gradient, symmetric, is
        # L^-T Phi(L^T gL) L^-1 with Phi the lower triangle mirrored, its diagonal halved.
        lower = node
        phi = (lower.mT @ g).tril()
        phi = 0.5 * (phi + phi.tril(-1).mT)
        left = Solve("linalg.cholesky")(lower.mT, phi)  # L^-T Phi
        return Solve("linalg.cholesky")(lower.mT, left.mT).mT  # (L^-T Phi) L^-1
