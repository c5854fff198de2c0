"""torch.norm, on top of torch.linalg's vector_norm and matrix_norm (core/linalg/norms.py),
which are also exported as `plugrad.vector_norm` / `plugrad.matrix_norm` (no Tensor methods,
as in torch)."""

from __future__ import annotations

from typing import Any

from .. import arguments
from ..autograd.tensor import Tensor
from ..linalg import norms as linalg_norms
from .registry import export

# One implementation of each: plugrad.linalg's (core/linalg/norms.py), exported here too.
vector_norm = export(method=False)(linalg_norms.vector_norm)
matrix_norm = export(method=False)(linalg_norms.matrix_norm)


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
