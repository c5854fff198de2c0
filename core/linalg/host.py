"""The host fallback of the linear-algebra kernels: NumPy's LAPACK on stacks of matrices.

Each function takes and returns NumPy arrays of shape (B, ...) in float32 or float64 and
computes in that precision, with the results `protocol.LinalgKernels` specifies (info codes
included). The core runs them for a backend without the kernel (copying its operands to the
host and the results back); numpy_ref's kernels are these same functions, so both paths give
identical numbers.
"""

from __future__ import annotations

import numpy as np

LinAlgError = np.linalg.LinAlgError


def cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L lower with zeros above, info): info[i] is 0, or k when the leading minor of order k
    of matrix i is not positive-definite (LAPACK potrf's code). Reads the lower triangle."""
    info = np.zeros(a.shape[0], dtype=np.int64)
    try:
        return np.linalg.cholesky(a), info
    except LinAlgError:  # find which matrices failed, and where
        out = np.zeros_like(a)
        for i, m in enumerate(a):
            try:
                out[i] = np.linalg.cholesky(m)
            except LinAlgError:
                info[i] = _failing_minor(m)
        return out, info


def _failing_minor(m: np.ndarray) -> int:
    for k in range(1, m.shape[0] + 1):
        try:
            np.linalg.cholesky(m[:k, :k])
        except LinAlgError:
            return k
    return m.shape[0]  # (not reached for a matrix whose factorisation failed)


def solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X with A X = B, info): a (B, n, n), b (B, n, k); info[i] > 0 when matrix i is
    singular (an exactly zero pivot of its LU factorisation)."""
    info = np.zeros(a.shape[0], dtype=np.int64)
    try:
        return np.linalg.solve(a, b), info
    except LinAlgError:
        out = np.zeros(b.shape, dtype=a.dtype)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except LinAlgError:
                info[i] = 1
        return out, info


def slogdet(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sign, log|det|), each (B,): a singular matrix gives (0, -inf)."""
    sign, logabsdet = np.linalg.slogdet(a)
    return sign.astype(a.dtype, copy=False), logabsdet.astype(a.dtype, copy=False)


def qr(a: np.ndarray, complete: bool) -> tuple[np.ndarray, np.ndarray]:
    """(Q, R) by Householder reflections (LAPACK geqrf/orgqr): reduced Q (B, m, k) and R
    (B, k, n), k = min(m, n); or, complete, Q (B, m, m) and R (B, m, n)."""
    q, r = np.linalg.qr(a, mode="complete" if complete else "reduced")
    return q, r


def eigh(a: np.ndarray, vectors: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(eigenvalues ascending (B, n), eigenvectors as columns (B, n, n) or None) of the
    symmetric matrices whose lower triangles are given."""
    if not vectors:
        return np.linalg.eigvalsh(a, UPLO="L"), None
    w, v = np.linalg.eigh(a, UPLO="L")
    return w, v


def svd(
    a: np.ndarray, full: bool, vectors: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(U, S descending, Vh): reduced U (B, m, k) and Vh (B, k, n), or full (B, m, m) and
    (B, n, n); only S when not `vectors`."""
    if not vectors:
        return None, np.linalg.svd(a, compute_uv=False), None
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    return u, s, vh
