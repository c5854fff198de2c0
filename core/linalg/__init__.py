"""plugrad.linalg: torch.linalg's functions, batched over leading dimensions.

    A = plugrad.randn(4, 3, 3, dtype=plugrad.float64, requires_grad=True)
    L = plugrad.linalg.cholesky(A @ A.mT + 3 * plugrad.eye(3, dtype=plugrad.float64))
    U, S, Vh = plugrad.linalg.svd(A)            # named tuple, as torch's
    plugrad.linalg.solve(A, b)                  # b (4, 3) or (4, 3, k)

Decompositions (cholesky, solve, slogdet, qr, eigh, svd) run as a backend's optional
`LinalgKernels` (`plugrad backends` lists which a backend has); for the others the core copies
the operands to the host, runs NumPy's LAPACK (`plugrad.linalg.host`) and copies the results
back. Everything else (inv, det, pinv, lstsq, norms, ...) is composed from those and the
core's kernels. Gradients are torch's, differentiable again.
"""

from __future__ import annotations

from .checks import QR, SVD, EighResult, LstsqResult, SlogdetResult
from .decompositions import eigh, eigvalsh, qr, svd, svdvals
from .kernels import LinAlgError
from .norms import matrix_norm, norm, vector_norm
from .products import cross, diagonal, matmul, matrix_rank, multi_dot, vecdot
from .solvers import (
    cholesky,
    det,
    inv,
    lstsq,
    matrix_power,
    pinv,
    slogdet,
    solve,
    solve_triangular,
)

__all__ = [
    "QR", "SVD", "EighResult", "LstsqResult", "SlogdetResult", "LinAlgError",
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "lstsq", "matmul",
    "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
    "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
]  # fmt: skip
