"""Norms: torch.norm and torch.linalg's vector_norm and matrix_norm, with torch's gradients.

vector_norm and matrix_norm are exported as `plugrad.vector_norm` / `plugrad.matrix_norm`
(no Tensor methods, as in torch); `plugrad.linalg` re-exports them. The spectral and nuclear
matrix norms read singular values from `plugrad.linalg.svdvals`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import arguments
from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..ops.norm import VectorNorm
from ..shapes import normalize_axis
from .common import floating
from .registry import export


def _order(fn: str, ord: Any) -> float:  # noqa: A002
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"{fn}(): ord must be a number (inf allowed), got {ord!r}")
    return float(ord)


def _cast(fn: str, x: Tensor, dtype: Any) -> Tensor:
    if dtype is not None:
        x = x.astype(dt.as_dtype(dtype))
    floating(fn, x)
    return x


@export(method=False)
def vector_norm(
    x: Tensor,
    ord: Any = 2,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """(sum |x|^ord)^(1/ord) over dim (every element by default); ord inf / -inf: max / min
    |x|, 0: the number of non-zero elements. Shapes: (2, 3) over dim 1 -> (2,)."""
    p = _order("vector_norm", ord)
    x = _cast("vector_norm", x, dtype)
    dims = arguments.dims("vector_norm", dim, x.ndim)
    if p < 0 and not math.isinf(p) and x.numel() == 0:
        raise ValueError("vector_norm(): a negative ord needs a non-empty input")
    return VectorNorm(p, dims, keepdim)(x)


@export(method=False)
def matrix_norm(
    A: Tensor,  # noqa: N803 - torch's name
    ord: Any = "fro",  # noqa: A002
    dim: Any = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The matrix norm over the two dims `dim` (the last two by default), batched over the
    others: 'fro', 'nuc', 1 / -1 (max / min column sum of |A|), inf / -inf (rows), 2 / -2
    (largest / smallest singular value)."""
    x = _cast("matrix_norm", A, dtype)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm(): A must have at least 2 dims, got shape {x.shape}")
    dims = arguments.int_tuple("matrix_norm", "dim", dim, 2, -x.ndim)
    rows, cols = (normalize_axis(d, x.ndim) for d in dims)
    if rows == cols:
        raise ValueError(f"matrix_norm(): dim must name two different dims, got {dim}")
    if ord == "fro":
        return vector_norm(x, 2, (rows, cols), keepdim)
    if ord == "nuc" or (not isinstance(ord, str) and _order("matrix_norm", ord) in (2, -2)):
        return _singular_norm(x, ord, rows, cols, keepdim)
    p = _order("matrix_norm", ord) if not isinstance(ord, str) else None
    if p not in (1.0, -1.0, math.inf, -math.inf):
        raise ValueError(
            f"matrix_norm(): ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}"
        )
    summed, extreme = (cols, rows) if math.isinf(p) else (rows, cols)  # type: ignore[arg-type]
    if not keepdim and summed < extreme:
        extreme -= 1
    sums = vector_norm(x, 1, summed, keepdim)
    return sums.amax(extreme, keepdim) if p > 0 else sums.amin(extreme, keepdim)  # type: ignore[operator]


def _singular_norm(x: Tensor, ord: Any, rows: int, cols: int, keepdim: bool) -> Tensor:  # noqa: A002
    try:
        from .. import linalg
    except ImportError:
        linalg = None
    svdvals = getattr(linalg, "svdvals", None)
    if svdvals is None:
        raise NotImplementedError(
            f"matrix_norm(ord={ord!r}) needs singular values, from plugrad.linalg.svdvals, "
            "which this build of plugrad does not have; 'fro', 1, -1, inf and -inf work"
        )
    order = [d for d in range(x.ndim) if d not in (rows, cols)] + [rows, cols]
    values = svdvals(x.permute(order))
    if ord == "nuc":
        result = values.sum(-1)
    else:
        result = values.amax(-1) if ord > 0 else values.amin(-1)
    if keepdim:
        for d in sorted((rows, cols)):
            result = result.unsqueeze(d)
    return result


@export
def norm(
    input: Tensor,  # noqa: A002
    p: Any = "fro",
    dim: Any = None,
    keepdim: bool = False,
    out: None = None,
    dtype: Any = None,
) -> Tensor:
    """torch.norm: p 'fro' (over all elements or up to two dims) or 'nuc' (a matrix norm),
    a number (a vector norm over dim, every element by default)."""
    if out is not None:
        raise TypeError("norm(): out= is not supported; assign the result instead")
    if isinstance(p, str):
        if p == "fro" and (dim is None or arguments.as_int(dim) is not None or len(dim) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        if p == "nuc":
            dims = tuple(range(input.ndim)) if dim is None else dim
            return matrix_norm(input, "nuc", dims, keepdim, dtype=dtype)
        raise ValueError(f"norm(): p must be 'fro', 'nuc' or a number, got {p!r}")
    return vector_norm(input, 2.0 if p is None else p, dim, keepdim, dtype=dtype)
