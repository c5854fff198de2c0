"""numpy_ref's optional linear-algebra kernels (`protocol.LinalgKernels`): the core's host
fallback itself (`plugrad.linalg.host`, NumPy's LAPACK), run on checked strided views, so
the kernel path and the fallback give the same numbers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plugrad.backend.validation_linalg import LinalgValidator
from plugrad.linalg import host


class LinalgKernels:
    """Mixed into NumpyRefBackend, which sets `_check` (the checks) and `_np` (a checked
    Strided's NumPy view)."""

    _check: LinalgValidator
    _np: Callable[..., np.ndarray]

    def linalg_cholesky(self, a, out, info):
        self._check.cholesky(a, out, info)
        factor, codes = host.cholesky(self._np(a))
        self._np(out)[...] = factor
        self._np(info)[...] = codes

    def linalg_solve(self, a, b, out, info):
        self._check.solve(a, b, out, info)
        x, codes = host.solve(self._np(a), self._np(b))
        self._np(out)[...] = x
        self._np(info)[...] = codes

    def linalg_slogdet(self, a, sign, logabsdet):
        self._check.slogdet(a, sign, logabsdet)
        self._np(sign)[...], self._np(logabsdet)[...] = host.slogdet(self._np(a))

    def linalg_qr(self, a, q, r):
        *_, complete = self._check.qr(a, q, r)
        self._np(q)[...], self._np(r)[...] = host.qr(self._np(a), complete)

    def linalg_eigh(self, a, eigenvalues, eigenvectors):
        self._check.eigh(a, eigenvalues, eigenvectors)
        values, vectors = host.eigh(self._np(a), eigenvectors is not None)
        self._np(eigenvalues)[...] = values
        if eigenvectors is not None:
            self._np(eigenvectors)[...] = vectors

    def linalg_svd(self, a, u, s, vh):
        *_, full = self._check.svd(a, u, s, vh)
        left, values, right = host.svd(self._np(a), full, u is not None)
        self._np(s)[...] = values
        if u is not None and vh is not None:
            self._np(u)[...] = left
            self._np(vh)[...] = np.asarray(right)
