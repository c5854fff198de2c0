"""The one contraction that tensordot and einsum lower to: a batched matrix product of
(B, M, K) and (B, K, N), by matmul for floating tensors and by a broadcast product and a sum
for integer ones (the matmul kernel is floating-point only). bool is refused, as torch's
matrix products refuse it."""

from __future__ import annotations

from .. import dtypes as dt
from ..autograd.tensor import Tensor


def batched_product(a: Tensor, b: Tensor) -> Tensor:
    """(B, M, K) x (B, K, N) -> (B, M, N), summing over K (B may be 1 on either side)."""
    dtype = dt.promote(a.dtype, b.dtype)
    if dtype.is_floating:
        return a.astype(dtype) @ b.astype(dtype)
    if dtype is dt.bool_:
        raise TypeError("a contraction of bool tensors is not supported; cast with .long() first")
    # (B, M, K, N) summed over K, in the operands' dtype (a uint8 contraction is uint8,
    # wrapping, as torch's; sum alone would widen it to int64)
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2).astype(dtype)


def permuted_matrix(x: Tensor, rows: list[int], cols: list[int]) -> Tensor:
    """x with dims `rows` then `cols` (every dim once), as a (prod(rows), prod(cols)) matrix."""
    shape = x.shape
    m = 1
    for d in rows:
        m *= shape[d]
    k = 1
    for d in cols:
        k *= shape[d]
    order = rows + cols
    moved = x if order == list(range(x.ndim)) else x.permute(order)
    return moved.reshape(m, k)
