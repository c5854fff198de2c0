"""Decompositions: qr, svd, svdvals, eigh and eigvalsh, as torch.linalg names them, batched
over leading dimensions, with torch's gradients (see `plugrad.ops.linalg_decomp`)."""

from __future__ import annotations

from ..amp.casting import autocast_op
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..ndarray import NDArray
from ..ops.linalg_decomp import QR as QROp
from ..ops.linalg_decomp import SVD as SVDOp
from ..ops.linalg_decomp import Eigh, decompose
from ..ops.linalg_solve import stacked
from . import kernels
from .checks import QR, SVD, EighResult, matrices

QR_MODES = ("reduced", "complete", "r")


@autocast_op("qr")
def qr(A: Tensor, mode: str = "reduced") -> QR:  # noqa: N803 - torch's names
    """A = Q R with Q's columns orthonormal and R upper triangular: 'reduced' Q (*, m, k),
    R (*, k, n), k = min(m, n); 'complete' Q (*, m, m), R (*, m, n); 'r' R only (Q empty)."""
    A = matrices("linalg.qr", A)
    if mode not in QR_MODES:
        raise ValueError(f"linalg.qr: qr received unrecognized mode {mode!r}; use {QR_MODES}")
    q, r = decompose(QROp(mode), A)
    if mode == "r":
        q = Tensor._wrap(NDArray.full((0,), 0, A.dtype, A.device))
    return QR(q, r)


@autocast_op("svd")
def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> SVD:  # noqa: N803
    """A = U diag(S) Vh, S descending: full U (*, m, m) and Vh (*, n, n), or with
    full_matrices=False U (*, m, k) and Vh (*, k, n). The gradient through U or Vh is
    finite for distinct singular values, and right for losses that do not depend on the
    vectors' signs (torch's caveats)."""
    A = matrices("linalg.svd", A)
    _no_driver("linalg.svd", driver)
    return SVD(*decompose(SVDOp(bool(full_matrices)), A))


@autocast_op("svdvals")
def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:  # noqa: N803
    """The singular values (*, k), descending; differentiable everywhere (U diag(gS) Vh)."""
    A = matrices("linalg.svdvals", A)
    _no_driver("linalg.svdvals", driver)
    if A.requires_grad and is_grad_enabled():  # the gradient needs the vectors
        return svd(A, full_matrices=False).S
    batch, (m, n) = A.shape[:-2], A.shape[-2:]
    values = NDArray.empty((_count(batch), min(m, n)), A.dtype, A.device)
    kernels.svd(stacked(A.array), None, values, None)
    return Tensor._wrap(values.reshape(batch + (min(m, n),)))


@autocast_op("eigh")
def eigh(A: Tensor, UPLO: str = "L") -> EighResult:  # noqa: N803
    """Eigenvalues (*, n), ascending, and orthonormal eigenvectors (columns of (*, n, n)) of
    symmetric matrices, read from their lower (UPLO='L') or upper ('U') triangle. The
    gradient is finite for distinct eigenvalues when the eigenvectors are used."""
    source = _triangle_source("linalg.eigh", A, UPLO)
    return EighResult(*decompose(Eigh(), source))


@autocast_op("eigvalsh")
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues (*, n), ascending, of symmetric matrices (see eigh)."""
    source = _triangle_source("linalg.eigvalsh", A, UPLO)
    if source.requires_grad and is_grad_enabled():
        return decompose(Eigh(), source)[0]
    n = source.shape[-1]
    values = NDArray.empty((_count(source.shape[:-2]), n), source.dtype, source.device)
    kernels.eigh(stacked(source.array), values, None)
    return Tensor._wrap(values.reshape(source.shape[:-1]))


def _triangle_source(fn: str, a: Tensor, uplo: str) -> Tensor:
    """The matrices whose lower triangle holds the one to read (a transposed view for 'U')."""
    a = matrices(fn, a, square=True)
    if uplo not in ("L", "U"):
        raise ValueError(f"{fn}: expected UPLO argument to be 'L' or 'U', but got {uplo!r}")
    return a if uplo == "L" else a.mT


def _no_driver(fn: str, driver: str | None) -> None:
    if driver is not None:
        raise ValueError(
            f"{fn}: keyword argument `driver=` is only supported on CUDA inputs with the "
            f"cuSOLVER backend in torch; plugrad takes driver=None, got {driver!r}"
        )


def _count(batch: tuple[int, ...]) -> int:
    from ..shapes import prod

    return prod(batch)
