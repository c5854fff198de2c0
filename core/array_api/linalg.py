"""The Array API `linalg` extension over `plugrad.linalg`, with the standard's arguments."""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import api
from .. import linalg as _linalg
from ..autograd.tensor import Tensor
from ._functions import matmul, matrix_transpose, tensordot, vecdot

_F = api.FUNCTIONS


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def cholesky(x: Tensor, /, *, upper: bool = False) -> Tensor:
    return _linalg.cholesky(x, upper=upper)


def cross(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    return _linalg.cross(x1, x2, dim=axis)


def det(x: Tensor, /) -> Tensor:
    return _linalg.det(x)


def diagonal(x: Tensor, /, *, offset: int = 0) -> Tensor:
    return _linalg.diagonal(x, offset=offset)


def eigh(x: Tensor, /) -> EighResult:
    values, vectors = _linalg.eigh(x)
    return EighResult(values, vectors)


def eigvalsh(x: Tensor, /) -> Tensor:
    return _linalg.eigvalsh(x)


def inv(x: Tensor, /) -> Tensor:
    return _linalg.inv(x)


def matrix_norm(x: Tensor, /, *, keepdims: bool = False, ord: Any = "fro") -> Tensor:  # noqa: A002
    return _linalg.matrix_norm(x, ord, keepdim=keepdims)


def matrix_power(x: Tensor, n: int, /) -> Tensor:
    return _linalg.matrix_power(x, n)


def matrix_rank(x: Tensor, /, *, rtol: Any = None) -> Tensor:
    return _linalg.matrix_rank(x, rtol=rtol)


def outer(x1: Tensor, x2: Tensor, /) -> Tensor:
    return _F["outer"](x1, x2)


def pinv(x: Tensor, /, *, rtol: Any = None) -> Tensor:
    return _linalg.pinv(x, rtol=rtol)


def qr(x: Tensor, /, *, mode: str = "reduced") -> QRResult:
    q, r = _linalg.qr(x, mode)
    return QRResult(q, r)


def slogdet(x: Tensor, /) -> SlogdetResult:
    sign, logabsdet = _linalg.slogdet(x)
    return SlogdetResult(sign, logabsdet)


def solve(x1: Tensor, x2: Tensor, /) -> Tensor:
    return _linalg.solve(x1, x2)


def svd(x: Tensor, /, *, full_matrices: bool = True) -> SVDResult:
    u, s, vh = _linalg.svd(x, full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x: Tensor, /) -> Tensor:
    return _linalg.svdvals(x)


def trace(x: Tensor, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    d = _linalg.diagonal(x, offset=offset)
    if dtype is not None:
        d = d.astype(dtype)
    return d.sum(-1)


def vector_norm(
    x: Tensor,
    /,
    *,
    axis: Any = None,
    keepdims: bool = False,
    ord: Any = 2,  # noqa: A002
) -> Tensor:
    return _linalg.vector_norm(x, ord, axis, keepdims)


__all__ = (
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet",
    "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
)  # fmt: skip
