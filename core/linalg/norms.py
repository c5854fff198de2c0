"""vector_norm, matrix_norm and norm, as torch.linalg names them.

(The branch that adds plugrad.vector_norm at the top level may bring its own; this module is
the one file to drop or keep when the two meet.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .. import arguments
from ..autograd.tensor import Tensor, where
from ..ndarray import NDArray
from ..ops.base import Op
from ..shapes import normalize_axes
from .checks import floating

if TYPE_CHECKING:
    from collections.abc import Sequence

MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


class VectorNorm(Op):
    """sum(|x|^p)^(1/p) over axes (max / min of |x| for p = +-inf, the non-zero count for
    p = 0), with torch's gradient: 0 where the norm is 0, shared among ties for inf."""

    saved = (0, -1)

    def __init__(self, p: float, axes: tuple[int, ...], keepdim: bool) -> None:
        self.p, self.axes, self.keepdim = p, axes, keepdim

    @property
    def name(self) -> str:
        return "linalg_vector_norm"

    def compute(self, x: NDArray) -> NDArray:
        p, axes, keep = self.p, self.axes, self.keepdim
        if p == 0:
            return x.scalar_op("ne", 0.0).astype(x.dtype).reduce("sum", axes, keep)
        magnitude = x.unary("abs")
        if math.isinf(p):
            if any(x.shape[a] == 0 for a in axes):
                raise ValueError(
                    "linalg.vector_norm cannot compute the inf norm on an empty tensor because "
                    "the operation does not have an identity"
                )
            return magnitude.reduce("max" if p > 0 else "min", axes, keep)
        if p == 1:
            return magnitude.reduce("sum", axes, keep)
        if p == 2:
            return x.binary("mul", x).reduce("sum", axes, keep).unary("sqrt")
        total = magnitude.scalar_op("pow", float(p)).reduce("sum", axes, keep)
        return total.scalar_op("pow", 1.0 / p)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor | None:
        (x,) = node._inputs
        p = self.p
        norm = node
        if not self.keepdim:
            shape = tuple(1 if i in self.axes else d for i, d in enumerate(x.shape))
            g, norm = g.reshape(shape), norm.reshape(shape)
        if p == 0:  # piecewise constant: no gradient (torch leaves it undefined)
            return None
        if p == 1:
            return x.sign() * g
        if p == 2:
            return g * where(norm == 0, 0.0, x / norm)
        if math.isinf(p):
            magnitude = x.abs()
            hits = ((magnitude == norm.detach()) | (magnitude != magnitude)).astype(x.dtype)
            return x.sign() * (g / hits.sum(self.axes, keepdim=True)) * hits
        if p < 1:
            scaled = x.sign() * where(x == 0, 0.0, x.abs() ** (p - 1))
            return scaled * g * norm ** (1 - p)
        scaled = x.sign() * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
        return scaled * where(norm == 0, 0.0, g / norm ** (p - 1))


def vector_norm(
    x: Tensor,
    ord: float = 2,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,  # noqa: A002
) -> Tensor:
    """The p-norm of x over `dim` (every dim when None or empty): any real `ord`, inf and
    -inf (largest / smallest |x|) and 0 (the count of non-zeros)."""
    fn = "linalg.vector_norm"
    x = _cast(fn, x, dtype)
    p = _order(fn, ord)
    axes = tuple(range(x.ndim)) if dim is None else arguments.dims(fn, dim, x.ndim)
    if not axes and dim is not None:
        axes = tuple(range(x.ndim))  # torch: dim=() is every dim
    return VectorNorm(p, axes or (), bool(keepdim))(x) if x.ndim else _scalar_norm(x, p)


def _scalar_norm(x: Tensor, p: float) -> Tensor:
    """The norm of a 0-d tensor: |x| (or whether it is non-zero for p = 0)."""
    return VectorNorm(p, (0,), False)(x.reshape(1))


def matrix_norm(
    A: Tensor, ord: Any = "fro", dim: Sequence[int] = (-2, -1), keepdim: bool = False,  # noqa: A002,N803
    *, dtype: Any = None,
) -> Tensor:  # fmt: skip
    """A norm of the matrices in dims `dim`: 'fro' (Frobenius), 'nuc' (the sum of singular
    values), 2 / -2 (the largest / smallest singular value), 1 / -1 (the largest / smallest
    column sum of |A|) and inf / -inf (row sums)."""
    fn = "linalg.matrix_norm"
    A = _cast(fn, A, dtype)
    if A.ndim < 2:
        raise ValueError(f"{fn}: the input tensor A must have at least 2 dimensions, got {A.shape}")
    if ord not in MATRIX_ORDS or isinstance(ord, bool):
        raise ValueError(f"{fn}: order {ord!r} not supported; use one of {MATRIX_ORDS}")
    pair = list(dim) if not isinstance(dim, (str, bytes)) else []
    if len(pair) != 2:
        raise ValueError(f"{fn}: dim must be a 2-tuple of ints, got {dim!r}")
    rows, cols = (normalize_axes(d, A.ndim)[0] for d in pair)
    if rows == cols:
        raise ValueError(f"{fn}: dims must be different, got {tuple(pair)}")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in ("nuc", 2, -2):
        from .decompositions import svdvals

        values = svdvals(A.movedim((rows, cols), (-2, -1)))
        if ord == "nuc":
            result = values.sum(-1)
        else:
            result = values.amax(-1) if ord == 2 else values.amin(-1)
        if keepdim:
            for axis in sorted((rows, cols)):
                result = result.unsqueeze(axis)
        return result
    first, second = (rows, cols) if abs(ord) == 1 else (cols, rows)  # sum first, then extreme
    sums = vector_norm(A, 1, first, keepdim)
    if not keepdim and first < second:
        second -= 1
    return sums.amax(second, keepdim) if ord > 0 else sums.amin(second, keepdim)


def norm(
    input: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,  # noqa: A002
) -> Tensor:  # fmt: skip
    """torch.linalg.norm: a vector norm for an int dim (or 1-D input), a matrix norm for a
    2-tuple dim (or 2-D input); with neither ord nor dim, the 2-norm of the flattened input."""
    fn = "linalg.norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(input).__name__}")
    if dim is not None and arguments.as_int(dim) is not None:
        dim = (dim,)
    if ord is None:
        if dim is None:
            return vector_norm(input, 2, None, keepdim, dtype=dtype)
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if input.ndim not in (1, 2):
            raise ValueError(
                f"{fn}: input must be 1-D or 2-D when ord is given and dim is None, got "
                f"{input.shape}"
            )
        dim = (0,) if input.ndim == 1 else (-2, -1)
    dims = tuple(dim)
    if len(dims) == 1:
        return vector_norm(input, ord, dims, keepdim, dtype=dtype)
    if len(dims) == 2:
        return matrix_norm(input, ord, dims, keepdim, dtype=dtype)
    raise ValueError(f"{fn}: dim must be an int or a 1- or 2-tuple, got {dim!r}")


def _cast(fn: str, x: Any, dtype: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: the input must be a Tensor, got {type(x).__name__}")
    floating(fn, x, "the input")
    if dtype is not None:
        x = x.astype(dtype)  # torch: the input is cast before the norm is computed
        floating(fn, x, "the input cast to dtype")
    return x


def _order(fn: str, ord: Any) -> float:  # noqa: A002
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):  # TypeError, as torch
        raise TypeError(f"{fn}: ord must be a number for a vector norm, got {ord!r}")
    return float(ord)
