"""Solving and inverting: solve, solve_triangular, inv, det, slogdet, cholesky, pinv, lstsq
and matrix_power, as torch.linalg names them. Inputs are (*, m, n) float32/float64 tensors,
batched over the leading dimensions (broadcast between operands)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import arguments
from .. import dtypes as dt
from ..amp.casting import autocast_op
from ..autograd.tensor import Tensor, where
from ..ndarray import NDArray
from ..ops.linalg_decomp import Det, Pinv, Slogdet, decompose
from ..ops.linalg_solve import Cholesky, Inv, Solve, eye
from ..shapes import broadcast_shapes
from .checks import (
    LstsqResult,
    SlogdetResult,
    epsilon,
    is_vector_rhs,
    matrices,
    same_kind,
)

LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@autocast_op("solve")
def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803 - torch's names
    """X with A X = B (left) or X A = B: A (*, n, n), B (*, n, k) or a batch of vectors
    (*, n) (B of A's shape less the last dimension, or 1-D)."""
    fn = "linalg.solve"
    A = matrices(fn, A, square=True)
    same_kind(fn, A, B)
    if not left:
        if B.ndim < 2:
            raise ValueError(
                f"{fn}: vector broadcasting of the left hand side is not supported for "
                "left=False; B must be (*, k, n)"
            )
        return solve(A.mT, B.mT).mT
    vector = is_vector_rhs(A, B)
    rhs = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if rhs.shape[-2] != n:
        raise ValueError(
            f"{fn}: incompatible shapes of A and B for the equation AX = B "
            f"({A.shape[-2]}x{n} and {rhs.shape[-2]}x{rhs.shape[-1]})"
        )
    batch = broadcast_shapes(A.shape[:-2], rhs.shape[:-2])
    x = Solve(fn)(A.expand(batch + A.shape[-2:]), rhs.expand(batch + rhs.shape[-2:]))
    return x.squeeze(-1) if vector else x


def solve_triangular(
    A: Tensor,
    B: Tensor,
    *,
    upper: bool,
    left: bool = True,
    unitriangular: bool = False,  # noqa: N803
) -> Tensor:
    """X with A X = B (or X A = B) reading only A's upper or lower triangle (and taking its
    diagonal as ones when unitriangular). B is (*, n, k)."""
    fn = "linalg.solve_triangular"
    A = matrices(fn, A, square=True)
    matrices(fn, same_kind(fn, A, B), name="B")
    triangle = A.triu() if upper else A.tril()
    if unitriangular:
        n = A.shape[-1]
        identity = Tensor._wrap(eye(n, A.array))
        triangle = where(identity.bool(), identity, triangle)
    return solve(triangle, B, left=left)


@autocast_op("inv")
def inv(A: Tensor) -> Tensor:  # noqa: N803
    """A^-1 of square matrices (*, n, n); LinAlgError when one is singular."""
    return Inv()(matrices("linalg.inv", A, square=True))


def det(A: Tensor) -> Tensor:  # noqa: N803
    """Determinants (*,) of square matrices (*, n, n)."""
    return Det()(matrices("linalg.det", A, square=True))


def slogdet(A: Tensor) -> SlogdetResult:  # noqa: N803
    """(sign, log|det|), each (*,): a singular matrix gives (0, -inf)."""
    return SlogdetResult(*decompose(Slogdet(), matrices("linalg.slogdet", A, square=True)))


@autocast_op("cholesky")
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """L (lower) with A = L L^T, read from A's lower triangle; U = L^T when upper.
    LinAlgError when a matrix is not positive-definite."""
    lower = Cholesky()(matrices("linalg.cholesky", A, square=True))
    return lower.mT if upper else lower


def pinv(
    A: Tensor,
    *,
    atol: Any = None,
    rtol: Any = None,
    hermitian: bool = False,  # noqa: N803
) -> Tensor:
    """The pseudo-inverse (*, n, m) of (*, m, n): singular values (|eigenvalues| when
    hermitian) at most max(atol, rtol * the largest) are dropped. rtol defaults to
    eps * max(m, n), or to 0 where atol is given and positive."""
    A = matrices("linalg.pinv", A, square=hermitian)
    return Pinv(*tolerances("linalg.pinv", A, atol, rtol), hermitian)(A)


def tolerances(fn: str, A: Tensor, atol: Any, rtol: Any) -> tuple[Any, Any]:  # noqa: N803
    """(atol, rtol) as numbers or arrays, with torch's defaults: atol 0; rtol eps * max(m, n),
    or 0 where atol is given and positive."""
    default = epsilon(A) * max(A.shape[-2:])
    absolute = _tolerance(fn, "atol", atol, A)
    if rtol is not None:
        return absolute, _tolerance(fn, "rtol", rtol, A)
    if atol is None:
        return absolute, default
    if isinstance(absolute, NDArray):
        return absolute, NDArray.where(absolute.scalar_op("gt", 0.0), 0.0, default).astype(A.dtype)
    return absolute, 0.0 if absolute > 0 else default


def _tolerance(fn: str, name: str, value: Any, a: Tensor) -> NDArray | float:
    if value is None:
        return 0.0
    if isinstance(value, Tensor):
        if value.device is not a.device:
            raise RuntimeError(f"{fn}: {name} is on {value.device.name}, A on {a.device.name}")
        return value.array.astype(a.dtype)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{fn}: {name} must be a float or a Tensor, got {value!r}")
    return float(value)


@autocast_op("lstsq")
def lstsq(
    A: Tensor,
    B: Tensor,
    rcond: float | None = None,
    *,
    driver: str | None = None,  # noqa: N803
) -> LstsqResult:
    """The least-squares solution X minimising ||A X - B|| (the minimum-norm one where A is
    rank-deficient), A (*, m, n), B (*, m, k) or (*, m). As torch on the CPU (driver
    'gelsy' by default): rank for gelsy/gelsd/gelss, singular values for gelsd/gelss, and
    squared residuals (*, k) for gels/gelsd/gelss when m > n and every A has full rank;
    the others are empty. Only the solution is differentiable."""
    fn = "linalg.lstsq"
    A = matrices(fn, A)
    same_kind(fn, A, B)
    chosen = "gelsy" if driver is None else driver
    if chosen not in LSTSQ_DRIVERS:
        raise ValueError(
            f"{fn}: parameter `driver` should be one of {LSTSQ_DRIVERS}, got {driver!r}"
        )
    m, n = A.shape[-2:]
    vector = is_vector_rhs(A, B)
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.ndim < 2 or rhs.shape[-2] != m:
        raise ValueError(
            f"{fn}: A ({A.shape}) and B ({B.shape}) must have the same number of rows, "
            f"A.size(-2) == B.size(-2)"
        )
    cutoff = epsilon(A) * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    solution = pinv(A, rtol=cutoff) @ rhs
    values = None
    if chosen != "gels":
        from .decompositions import svdvals

        values = svdvals(A.detach())
    empty = Tensor._wrap(NDArray.full((0,), 0, A.dtype, A.device))
    rank = Tensor._wrap(NDArray.full((0,), 0, dt.int64, A.device))
    full_rank = True
    if values is not None:
        largest = values.amax(-1, keepdim=True) if values.shape[-1] else values
        rank = (values > largest * cutoff).long().sum(-1)
        full_rank = bool((rank == min(m, n)).all()) if rank.numel() else True
    residuals = empty
    if chosen != "gelsy" and m > n and full_rank:
        error = A.detach() @ solution.detach() - rhs.detach()
        residuals = (error * error).sum(-2)
    singular_values = values if chosen in ("gelsd", "gelss") else empty
    return LstsqResult(solution.squeeze(-1) if vector else solution, residuals, rank,
                       singular_values)  # fmt: skip


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    """A^n for square matrices by repeated squaring; n < 0 inverts first, n = 0 gives I."""
    fn = "linalg.matrix_power"
    A = matrices(fn, A, square=True)
    power = arguments.integer(fn, "n", n)
    if power == 0:  # the identity, with a zero gradient to A (as torch's)
        identity = Tensor._wrap(eye(A.shape[-1], A.array))
        everywhere = Tensor._wrap(NDArray.full((), True, dt.bool_, A.device))
        return where(everywhere, identity, A)
    base = inv(A) if power < 0 else A
    power = abs(power)
    result = None
    while power:
        if power & 1:
            result = base if result is None else result @ base
        power >>= 1
        if power:
            base = base @ base
    return result  # type: ignore[return-value]
