"""The rest of torch.linalg that composes from core ops: matmul, diagonal, vecdot, cross,
multi_dot and matrix_rank (which the Array API's linalg extension also names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import arguments
from .. import dtypes as dt
from ..amp.casting import autocast_op
from ..autograd.tensor import Tensor
from ..autograd.tensor import matmul as _matmul
from ..ndarray import NDArray
from ..ops.linalg_decomp import cutoffs
from ..shapes import broadcast_shapes, normalize_axis, prod
from .checks import matrices


def matmul(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - torch's names
    """plugrad.matmul (batched, broadcasting, the 1-D cases as torch)."""
    return _matmul(input, other)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """The diagonals of the matrices in dims (dim1, dim2), as a view (*, k)."""
    return A.diagonal(offset, dim1, dim2)


@autocast_op("vecdot")
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """sum(x * y) over `dim`, the two broadcast against each other."""
    product = x * y
    return product.sum(normalize_axis(dim, product.ndim))


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along `dim` (input and other broadcast)."""
    shape = broadcast_shapes(input.shape, other.shape)
    axis = normalize_axis(dim, len(shape))
    if shape[axis] != 3:
        raise ValueError(
            f"linalg.cross: inputs dimension {dim} must have length 3, got {input.shape} and "
            f"{other.shape}"
        )
    a, b = input.expand(shape), other.expand(shape)
    # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): rolls of the components
    return a.roll(-1, axis) * b.roll(-2, axis) - a.roll(-2, axis) * b.roll(-1, axis)


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices; the first may be a row vector (1-D) and the last
    a column vector. Evaluated left to right."""
    items = arguments.tensor_list("linalg.multi_dot", tensors, Tensor)
    if len(items) < 2:
        raise ValueError("linalg.multi_dot(): expected at least 2 tensors but got 1")
    for i, t in enumerate(items):
        allowed = (1, 2) if i in (0, len(items) - 1) else (2,)
        if t.ndim not in allowed:
            raise ValueError(
                f"linalg.multi_dot(): tensor {i} must be {' or '.join(f'{d}D' for d in allowed)}"
                f", got {t.ndim}D"
            )
    result = items[0]
    for t in items[1:]:
        result = result @ t
    return result


def matrix_rank(
    A: Tensor,
    *,
    atol: Any = None,
    rtol: Any = None,
    hermitian: bool = False,  # noqa: N803
) -> Tensor:
    """The number of singular values (|eigenvalues| when hermitian) above
    max(atol, rtol * the largest), int64 (*,); the tolerances default as pinv's."""
    from .decompositions import eigvalsh, svdvals
    from .solvers import tolerances

    A = matrices("linalg.matrix_rank", A, square=hermitian).detach()
    absolute, relative = tolerances("linalg.matrix_rank", A, atol, rtol)
    values = (eigvalsh(A).abs() if hermitian else svdvals(A)).array
    batch, k = A.shape[:-2], values.shape[-1]
    if not k:
        return Tensor._wrap(NDArray.full(batch, 0, dt.int64, A.device))
    flat = values.reshape((prod(batch), k))
    largest = flat.reduce("max", (1,), keepdims=True)
    cut = cutoffs(absolute, relative, largest, batch, A.array)
    return Tensor._wrap(flat.binary("gt", cut).astype(dt.int64).reduce("sum", (1,)).reshape(batch))
