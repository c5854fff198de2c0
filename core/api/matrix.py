"""Matrix-shaped helpers: triangles, diagonals, trace, outer and Kronecker products,
tensordot and meshgrid, as torch names them.

Diagonals are strided views (`NDArray.diagonal`, no copy) with their own adjoint
(`ops.diagonal`); everything else composes from differentiable core ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import arguments
from ..amp.casting import autocast_op
from ..autograd.tensor import Tensor, where
from ..ndarray import NDArray
from ..ops.diagonal import Diagonal, DiagonalScatter
from ..shapes import normalize_axis
from .contraction import batched_product, permuted_matrix
from .registry import export


def _triangle(fn: str, input: Tensor, diagonal: int, lower: bool) -> Tensor:
    if input.ndim < 2:
        raise ValueError(f"{fn}(): input tensor must have at least 2 dimensions, got {input.shape}")
    k = arguments.integer(fn, "diagonal", diagonal)
    m, n = input.shape[-2:]
    rows = NDArray.from_numpy(np.arange(m, dtype=np.int64).reshape(m, 1), input.device)
    cols = NDArray.from_numpy(np.arange(n, dtype=np.int64).reshape(1, n), input.device)
    offsets = cols.binary("sub", rows)  # (m, n): j - i, the diagonal each element lies on
    keep = offsets.scalar_op("le" if lower else "ge", k)
    zero = Tensor._wrap(NDArray.full((), 0, input.dtype, input.device))
    return where(Tensor._wrap(keep), input, zero)


@export(inplace_form=True)
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements with j - i <= diagonal); 0 above."""
    return _triangle("tril", input, diagonal, lower=True)


@export(inplace_form=True)
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (elements with j - i >= diagonal); 0 below."""
    return _triangle("triu", input, diagonal, lower=False)


@export
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal of dims (dim1, dim2), `offset` above the main one: the other
    dims in order, then the diagonal. (3, 4, 5).diagonal(0, 0, 2) -> (4, 3)."""
    if input.ndim < 2:
        raise ValueError(f"diagonal(): input must have at least 2 dimensions, got {input.shape}")
    k = arguments.integer("diagonal", "offset", offset)
    a, b = normalize_axis(dim1, input.ndim), normalize_axis(dim2, input.ndim)
    return Diagonal(k, a, b)(input)


@export
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose diagonal (offset, dim1, dim2) holds input's last dimension, 0 elsewhere:
    (*, n) -> (*, n + |offset|, n + |offset|) with the default dims."""
    if input.ndim == 0:
        raise ValueError("diag_embed(): input must have at least 1 dimension")
    k = arguments.integer("diag_embed", "offset", offset)
    ndim = input.ndim + 1
    a, b = normalize_axis(dim1, ndim), normalize_axis(dim2, ndim)
    if a == b:
        raise ValueError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = input.shape[-1] + abs(k)
    shape = list(input.shape[:-1])
    for axis in sorted((a, b)):
        shape.insert(axis, size)
    return DiagonalScatter(tuple(shape), k, a, b)(input)


@export
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: the square matrix with it on its `diagonal`; 2-D: a copy of that diagonal."""
    k = arguments.integer("diag", "diagonal", diagonal)
    if input.ndim == 1:
        size = input.shape[0] + abs(k)
        return DiagonalScatter((size, size), k, 0, 1)(input)
    if input.ndim == 2:
        return Diagonal(k, 0, 1)(input).clone()
    raise ValueError(f"diag(): supports 1D or 2D tensors, got {input.ndim}D")


@export
@autocast_op("trace")
def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    if input.ndim != 2:
        raise ValueError(f"trace(): expected a matrix, but got a tensor of shape {input.shape}")
    return Diagonal(0, 0, 1)(input).sum()


@export
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """input (n,) and vec2 (m,) -> (n, m): input[i] * vec2[j]."""
    for name, v in (("input", input), ("vec2", vec2)):
        if not isinstance(v, Tensor) or v.ndim != 1:
            got = f"{v.ndim}-D" if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"outer(): expected a 1-D tensor as {name}, got {got}")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


@export
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: block (i, j, ...) is input[i, j, ...] * other; shapes multiply
    dimension by dimension after the shorter is padded with leading 1s."""
    ndim = max(input.ndim, other.ndim)
    a_shape = (1,) * (ndim - input.ndim) + input.shape
    b_shape = (1,) * (ndim - other.ndim) + other.shape
    a = input.reshape(tuple(v for d in a_shape for v in (d, 1)))
    b = other.reshape(tuple(v for d in b_shape for v in (1, d)))
    return (a * b).reshape(tuple(p * q for p, q in zip(a_shape, b_shape)))


@export(method=False)
def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Sum over dims of a paired with dims of b: an int n (a's last n with b's first n) or
    two sequences ([a dims], [b dims]). The result has a's free dims then b's."""
    dims_a, dims_b = _tensordot_dims(a, b, dims)
    for i, j in zip(dims_a, dims_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot(): contracted dimensions need to match, but first has size "
                f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in dim {j}"
            )
    free_a = [i for i in range(a.ndim) if i not in dims_a]
    free_b = [j for j in range(b.ndim) if j not in dims_b]
    left = permuted_matrix(a, free_a, dims_a)
    right = permuted_matrix(b, dims_b, free_b)
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    return batched_product(left, right).reshape(shape)


def _tensordot_dims(a: Tensor, b: Tensor, dims: Any) -> tuple[list[int], list[int]]:
    count = arguments.as_int(dims)
    if count is not None:
        if count < 0 or count > min(a.ndim, b.ndim):
            raise ValueError(
                f"tensordot(): dims={count} must lie in [0, {min(a.ndim, b.ndim)}] for tensors "
                f"of shapes {a.shape} and {b.shape}"
            )
        return list(range(a.ndim - count, a.ndim)), list(range(count))
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or len(dims) != 2:
        raise TypeError(f"tensordot(): dims must be an int or a pair of dim lists, got {dims!r}")
    pairs = []
    for tensor, given in zip((a, b), dims):
        listed = [given] if arguments.as_int(given) is not None else list(given)
        pairs.append([normalize_axis(arguments.integer("tensordot", "dims", d), max(tensor.ndim, 1))
                      for d in listed])  # fmt: skip
    if len(pairs[0]) != len(pairs[1]):
        raise ValueError(f"tensordot(): both dim lists should have the same length, got {dims!r}")
    for listed in pairs:
        if len(set(listed)) != len(listed):
            raise ValueError(f"tensordot(): a dim appears twice in {dims!r}")
    return pairs[0], pairs[1]


@export(method=False)
def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids of 1-D (or 0-d) tensors, as expanded views: with indexing 'ij' (the
    default) output i varies along dim i; with 'xy' the first two dims are swapped."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    items = arguments.tensor_list("meshgrid", tensors, Tensor)
    mode = "ij" if indexing is None else indexing
    if mode not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    first = items[0]
    for i, t in enumerate(items):
        if t.ndim > 1:
            raise ValueError(f"meshgrid(): expects 0D or 1D tensors, tensor {i} is {t.ndim}D")
        if t.dtype is not first.dtype or t.device is not first.device:
            raise TypeError(
                "meshgrid(): expects all tensors to have the same dtype and device, got "
                f"{first.dtype.name} on {first.device.name} and {t.dtype.name} on {t.device.name}"
            )
    places = list(range(len(items)))
    if mode == "xy" and len(items) >= 2:
        places[0], places[1] = 1, 0
    shape = [0] * len(items)
    for t, place in zip(items, places):
        shape[place] = t.numel()
    grids = []
    for t, place in zip(items, places):
        lined = [1] * len(items)
        lined[place] = t.numel()
        grids.append(t.reshape(tuple(lined)).expand(tuple(shape)))
    return tuple(grids)
