"""The argument checks of the optional linear-algebra kernels (`protocol.LinalgKernels`),
on top of a backend's `Validator`:

    from plugrad.backend.validation_linalg import LinalgValidator

    check = LinalgValidator(Validator("mydev", MyBuffer, dtypes))
    def linalg_qr(self, a, q, r):
        batch, m, n, complete = check.qr(a, q, r)   # raises before any work

Each method checks the shapes, dtypes, layouts and extents the protocol promises (a stack
(B, m, n) of one floating dtype, non-empty; outputs of the documented shapes with row-major
strides; int64 info) and returns the sizes the kernel needs.
"""

from __future__ import annotations

from .protocol import Strided
from .validation import Validator

LINALG_DTYPES = ("float32", "float64")


class LinalgValidator:
    def __init__(self, check: Validator) -> None:
        self.check = check
        self.backend = check.backend

    def _stack(self, what: str, a: Strided, role: str = "a") -> tuple[int, int, int]:
        if a.dtype not in LINALG_DTYPES:
            raise TypeError(
                f"{self.backend} {what}: {role} must be float32 or float64, not {a.dtype}"
            )
        if len(a.shape) != 3:
            raise ValueError(
                f"{self.backend} {what}: {role} must be a (B, m, n) stack of matrices, got "
                f"shape {tuple(a.shape)}"
            )
        self.check.view(a, what, None, role)
        batch, m, n = (int(d) for d in a.shape)
        if not (batch and m and n):
            raise ValueError(
                f"{self.backend} {what}: {role} {tuple(a.shape)} is empty; the core handles "
                "empty stacks itself"
            )
        return batch, m, n

    def _square(self, what: str, a: Strided) -> tuple[int, int]:
        batch, m, n = self._stack(what, a)
        if m != n:
            raise ValueError(f"{self.backend} {what}: a must hold square matrices, got {m}x{n}")
        return batch, n

    def _out(self, what: str, out: Strided, shape: tuple[int, ...], dtype: str, role: str) -> None:
        if tuple(out.shape) != shape:
            raise ValueError(
                f"{self.backend} {what}: {role} must have shape {shape}, got {tuple(out.shape)}"
            )
        self.check.view(out, what, dtype, role)
        self.check.compact(f"{what} {role}", out)

    def cholesky(self, a: Strided, out: Strided, info: Strided) -> tuple[int, int]:
        what = "linalg_cholesky"
        batch, n = self._square(what, a)
        self._out(what, out, (batch, n, n), a.dtype, "out")
        self._out(what, info, (batch,), "int64", "info")
        return batch, n

    def solve(self, a: Strided, b: Strided, out: Strided, info: Strided) -> tuple[int, int, int]:
        what = "linalg_solve"
        batch, n = self._square(what, a)
        b_batch, rows, k = self._stack(what, b, "b")
        if b.dtype != a.dtype or (b_batch, rows) != (batch, n):
            raise ValueError(
                f"{self.backend} {what}: b ({tuple(b.shape)}, {b.dtype}) must be ({batch}, {n}, "
                f"k) of a's dtype {a.dtype}"
            )
        self._out(what, out, (batch, n, k), a.dtype, "out")
        self._out(what, info, (batch,), "int64", "info")
        return batch, n, k

    def slogdet(self, a: Strided, sign: Strided, logabsdet: Strided) -> tuple[int, int]:
        what = "linalg_slogdet"
        batch, n = self._square(what, a)
        self._out(what, sign, (batch,), a.dtype, "sign")
        self._out(what, logabsdet, (batch,), a.dtype, "logabsdet")
        return batch, n

    def qr(self, a: Strided, q: Strided, r: Strided) -> tuple[int, int, int, bool]:
        """(B, m, n, complete)."""
        what = "linalg_qr"
        batch, m, n = self._stack(what, a)
        k = min(m, n)
        complete = tuple(q.shape) == (batch, m, m) and m > n
        self._out(what, q, (batch, m, m if complete else k), a.dtype, "q")
        self._out(what, r, (batch, m if complete else k, n), a.dtype, "r")
        return batch, m, n, complete

    def eigh(self, a: Strided, values: Strided, vectors: Strided | None) -> tuple[int, int]:
        what = "linalg_eigh"
        batch, n = self._square(what, a)
        self._out(what, values, (batch, n), a.dtype, "eigenvalues")
        if vectors is not None:
            self._out(what, vectors, (batch, n, n), a.dtype, "eigenvectors")
        return batch, n

    def svd(
        self, a: Strided, u: Strided | None, s: Strided, vh: Strided | None
    ) -> tuple[int, int, int, bool]:
        """(B, m, n, full); u and vh are both given or both None."""
        what = "linalg_svd"
        batch, m, n = self._stack(what, a)
        k = min(m, n)
        self._out(what, s, (batch, k), a.dtype, "s")
        if (u is None) != (vh is None):
            raise ValueError(f"{self.backend} {what}: give both u and vh, or neither")
        if u is None or vh is None:
            return batch, m, n, False
        full = m != n and (tuple(u.shape), tuple(vh.shape)) == ((batch, m, m), (batch, n, n))
        self._out(what, u, (batch, m, m if full else k), a.dtype, "u")
        self._out(what, vh, (batch, n if full else k, n), a.dtype, "vh")
        return batch, m, n, full
