"""torch's top-level names for linear algebra (plugrad.det, Tensor.inverse, ...), each the
`plugrad.linalg` function under torch's older spelling and argument conventions."""

from __future__ import annotations

import math
from typing import NamedTuple

from .. import linalg
from ..autograd.tensor import Tensor, where
from ..linalg.checks import QR, SlogdetResult
from .registry import export


class SVDResult(NamedTuple):
    """torch.svd's result: V itself, not its transpose Vh."""

    U: Tensor
    S: Tensor
    V: Tensor


@export
def det(input: Tensor) -> Tensor:
    """linalg.det."""
    return linalg.det(input)


@export
def inverse(input: Tensor) -> Tensor:
    """linalg.inv."""
    return linalg.inv(input)


@export
def slogdet(input: Tensor) -> SlogdetResult:
    """linalg.slogdet: (sign, log|det|)."""
    return linalg.slogdet(input)


@export
def logdet(input: Tensor) -> Tensor:
    """log(det): nan where det < 0, -inf where it is 0 (gradients through log|det|)."""
    sign, logabsdet = linalg.slogdet(input)
    return where(sign < 0, math.nan, logabsdet)


@export
def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """linalg.cholesky (torch.cholesky's spelling)."""
    return linalg.cholesky(input, upper=upper)


@export
def qr(input: Tensor, some: bool = True) -> QR:
    """linalg.qr: reduced when `some`, else complete."""
    return linalg.qr(input, "reduced" if some else "complete")


@export
def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> SVDResult:
    """torch.svd: (U, S, V) with A = U diag(S) V^T, reduced when `some`; without compute_uv,
    U and V are zeros of (*, m, m) and (*, n, n)."""
    if not compute_uv:
        values = linalg.svdvals(input)
        m, n = input.shape[-2:]
        batch = input.shape[:-2]
        return SVDResult(_zeros(input, batch + (m, m)), values, _zeros(input, batch + (n, n)))
    u, s, vh = linalg.svd(input, full_matrices=not some)
    return SVDResult(u, s, vh.mT)


def _zeros(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    from ..ndarray import NDArray

    return Tensor._wrap(NDArray.full(shape, 0, input.dtype, input.device))


@export
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """linalg.pinv with rtol=rcond."""
    return linalg.pinv(input, rtol=rcond)


@export
def matrix_power(input: Tensor, n: int) -> Tensor:
    """linalg.matrix_power."""
    return linalg.matrix_power(input, n)
