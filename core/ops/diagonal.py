"""Diagonals: the view of one (torch.diagonal) and its adjoint, zeros with a diagonal written
(torch.diagonal_scatter into zeros; diag_embed and diag build on it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class Diagonal(Op):
    """x.diagonal(offset, dim1, dim2): a view (no copy)."""

    saved = ()

    def __init__(self, offset: int, dim1: int, dim2: int) -> None:
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    @property
    def name(self) -> str:
        return "diagonal"

    def compute(self, x: NDArray) -> NDArray:
        return x.diagonal(self.offset, self.dim1, self.dim2)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        shape = node._inputs[0].shape
        return DiagonalScatter(shape, self.offset, self.dim1, self.dim2)(g)


class DiagonalScatter(Op):
    """Zeros of `shape` whose diagonal (offset, dim1, dim2) is the input."""

    saved = ()

    def __init__(self, shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> None:
        self.shape, self.offset, self.dim1, self.dim2 = shape, offset, dim1, dim2

    @property
    def name(self) -> str:
        return "diagonal_scatter"

    def compute(self, x: NDArray) -> NDArray:
        out = NDArray.full(self.shape, 0, x.dtype, x.device)
        out.diagonal(self.offset, self.dim1, self.dim2).assign_(x)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return Diagonal(self.offset, self.dim1, self.dim2)(g)
