"""The optional linear-algebra kernels (`protocol.LinalgKernels`) of a backend, by the
properties that define them: factors that multiply back to the input, orthonormal and
triangular factors, ordered spectra, LAPACK's info codes, on strided, transposed,
batch-broadcast and offset inputs.

A kernel the backend lacks is skipped: the core runs NumPy's LAPACK on the host for it
(`plugrad.linalg.host`). Run with `pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import numpy as np
import pytest

from plugrad.backend.protocol import LINALG_KERNELS, Strided
from plugrad.backend.validation_linalg import LINALG_DTYPES
from plugrad.testing.helpers import compact_out, read, upload
from plugrad.testing.strategies import NUMPY_DTYPES

TOL = {"float32": 2e-4, "float64": 1e-10}
LAYOUTS = ("compact", "transposed", "broadcast", "offset")
SHAPES = [(1, 1, 1), (3, 4, 4), (2, 5, 3), (2, 3, 5), (1, 9, 9)]


def linalg_kernel(backend, name: str):
    kernel = getattr(backend, name, None)
    if kernel is None:
        pytest.skip(
            f"{backend.name} has no optional kernel {name} (the core runs NumPy's LAPACK on the "
            "host instead, see plugrad.linalg.host)"
        )
    return kernel


def stack(backend, values: np.ndarray, dtype: str, layout: str) -> Strided:
    """`values` (B, m, n) laid out as asked: row-major, stored transposed, one matrix
    broadcast over the batch (stride 0), or at an offset inside a larger buffer."""
    values = np.asarray(values, dtype=NUMPY_DTYPES[dtype])
    batch, m, n = values.shape
    if layout == "transposed":
        host = np.ascontiguousarray(values.transpose(0, 2, 1))
        return Strided(backend.from_numpy(host.reshape(-1)), (batch, m, n), (m * n, 1, m), 0,
                       dtype)  # fmt: skip
    if layout == "broadcast":
        values[:] = values[0]
        return Strided(backend.from_numpy(values[0].reshape(-1).copy()), (batch, m, n),
                       (0, n, 1), 0, dtype)  # fmt: skip
    if layout == "offset":
        host = np.concatenate([np.full(3, -5.0), values.reshape(-1), np.full(2, 9.0)])
        return Strided(backend.from_numpy(host.astype(values.dtype)), (batch, m, n),
                       (m * n, n, 1), 3, dtype)  # fmt: skip
    return upload(backend, values, dtype)


def matrices(shape, seed: int = 0, square_boost: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, shape)
    if square_boost and shape[-1] == shape[-2]:
        values = values + square_boost * np.eye(shape[-1])
    return values


def close(actual, expected, dtype: str, what: str) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=TOL[dtype],
                               atol=TOL[dtype], err_msg=what)  # fmt: skip


def test_linalg_kernels_are_callable_or_absent(backend):
    for name in LINALG_KERNELS:
        kernel = getattr(backend, name, None)
        assert kernel is None or callable(kernel), f"{backend.name}.{name} is not callable"


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [1, 3, 8])
def test_linalg_cholesky(backend, dtype, layout, n):
    kernel = linalg_kernel(backend, "linalg_cholesky")
    x = matrices((3, n, n))
    spd = x @ x.transpose(0, 2, 1) + n * np.eye(n)
    given = np.tril(spd) + np.triu(np.full((n, n), 99.0), 1)  # only the lower triangle counts
    out, info = compact_out(backend, (3, n, n), dtype), compact_out(backend, (3,), "int64")
    kernel(stack(backend, given, dtype, layout), out, info)
    lower = read(backend, out).astype(np.float64)
    if layout == "broadcast":
        spd[:] = spd[0]
    assert read(backend, info).tolist() == [0, 0, 0]
    np.testing.assert_array_equal(np.triu(lower, 1), 0)
    close(lower @ lower.transpose(0, 2, 1), spd, dtype, f"L L^T, {layout}")


def test_linalg_cholesky_reports_the_failing_minor(backend):
    kernel = linalg_kernel(backend, "linalg_cholesky")
    a = np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0]), np.diag([1.0, 2.0, 0.0])])
    out, info = compact_out(backend, (3, 3, 3), "float64"), compact_out(backend, (3,), "int64")
    kernel(upload(backend, a, "float64"), out, info)
    assert read(backend, info).tolist() == [0, 2, 3]  # LAPACK potrf's info


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n,k", [(1, 1), (4, 2), (7, 5)])
def test_linalg_solve(backend, dtype, layout, n, k):
    kernel = linalg_kernel(backend, "linalg_solve")
    a = matrices((2, n, n), square_boost=3.0)
    b = matrices((2, n, k), seed=1)
    out, info = compact_out(backend, (2, n, k), dtype), compact_out(backend, (2,), "int64")
    kernel(stack(backend, a, dtype, layout), stack(backend, b, dtype, "compact"), out, info)
    if layout == "broadcast":
        a[:] = a[0]
    assert read(backend, info).tolist() == [0, 0]
    close(a @ read(backend, out).astype(np.float64), b, dtype, f"A X = B, {layout}")


def test_linalg_solve_flags_singular_matrices(backend):
    kernel = linalg_kernel(backend, "linalg_solve")
    a = np.stack([np.eye(2), np.ones((2, 2))])
    out, info = compact_out(backend, (2, 2, 1), "float64"), compact_out(backend, (2,), "int64")
    kernel(upload(backend, a, "float64"), upload(backend, np.ones((2, 2, 1))), out, info)
    codes = read(backend, info)
    assert codes[0] == 0 and codes[1] > 0


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_linalg_slogdet(backend, dtype, layout):
    kernel = linalg_kernel(backend, "linalg_slogdet")
    a = matrices((4, 5, 5), square_boost=0.5)
    a[1, 0] = 0.0
    a[1, 0, 0] = 1e-30  # nearly singular, but not exactly
    a[2] = 0.0  # singular: sign 0, log|det| -inf
    a[3, :, 0] *= -1.0
    sign, logabsdet = compact_out(backend, (4,), dtype), compact_out(backend, (4,), dtype)
    kernel(stack(backend, a, dtype, layout), sign, logabsdet)
    if layout == "broadcast":
        a[:] = a[0]
    expected = np.linalg.det(a.astype(NUMPY_DTYPES[dtype]).astype(np.float64))
    got_sign, got_log = read(backend, sign), read(backend, logabsdet)
    np.testing.assert_array_equal(got_sign, np.sign(expected))
    finite = expected != 0
    close(got_log[finite], np.log(np.abs(expected[finite])), dtype, f"log|det|, {layout}")
    assert np.all(np.isneginf(got_log[~finite]))


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("complete", [False, True])
def test_linalg_qr(backend, dtype, layout, shape, complete):
    kernel = linalg_kernel(backend, "linalg_qr")
    a = matrices(shape)
    batch, m, n = shape
    k = m if complete else min(m, n)
    q, r = compact_out(backend, (batch, m, k), dtype), compact_out(backend, (batch, k, n), dtype)
    kernel(stack(backend, a, dtype, layout), q, r)
    if layout == "broadcast":
        a[:] = a[0]
    qv, rv = read(backend, q).astype(np.float64), read(backend, r).astype(np.float64)
    np.testing.assert_array_equal(np.tril(rv, -1), 0)
    close(qv.transpose(0, 2, 1) @ qv, np.broadcast_to(np.eye(k), (batch, k, k)), dtype, "Q^T Q")
    close(qv @ rv, a, dtype, f"Q R, {layout}")


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [1, 4, 9])
@pytest.mark.parametrize("vectors", [True, False])
def test_linalg_eigh(backend, dtype, layout, n, vectors):
    kernel = linalg_kernel(backend, "linalg_eigh")
    x = matrices((3, n, n))
    symmetric = x + x.transpose(0, 2, 1)
    given = np.tril(symmetric) + np.triu(np.full((n, n), 99.0), 1)  # the upper part is unread
    values = compact_out(backend, (3, n), dtype)
    vecs = compact_out(backend, (3, n, n), dtype) if vectors else None
    kernel(stack(backend, given, dtype, layout), values, vecs)
    if layout == "broadcast":
        symmetric[:] = symmetric[0]
    w = read(backend, values).astype(np.float64)
    assert np.all(np.diff(w, axis=-1) >= 0), "eigenvalues must ascend"
    close(w.sum(-1), np.trace(symmetric, axis1=1, axis2=2), dtype, "sum of eigenvalues")
    close((w**2).sum(-1), (symmetric**2).sum((1, 2)), dtype, "sum of squared eigenvalues")
    if vectors:
        v = read(backend, vecs).astype(np.float64)
        close(v.transpose(0, 2, 1) @ v, np.broadcast_to(np.eye(n), (3, n, n)), dtype, "V^T V")
        close(symmetric @ v, v * w[:, None, :], dtype, f"A V = V diag(w), {layout}")


@pytest.mark.parametrize("dtype", LINALG_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", ["reduced", "full", "values"])
def test_linalg_svd(backend, dtype, layout, shape, mode):
    kernel = linalg_kernel(backend, "linalg_svd")
    a = matrices(shape)
    batch, m, n = shape
    k = min(m, n)
    s = compact_out(backend, (batch, k), dtype)
    u = vh = None
    if mode != "values":
        cols, rows = (m, n) if mode == "full" else (k, k)
        u, vh = compact_out(backend, (batch, m, cols), dtype), compact_out(
            backend, (batch, rows, n), dtype)  # fmt: skip
    kernel(stack(backend, a, dtype, layout), u, s, vh)
    if layout == "broadcast":
        a[:] = a[0]
    sv = read(backend, s).astype(np.float64)
    assert np.all(sv >= 0) and np.all(np.diff(sv, axis=-1) <= 0), "descending, non-negative"
    close((sv**2).sum(-1), (a**2).sum((1, 2)), dtype, "sum of squared singular values")
    if mode == "values":
        return
    uv, vhv = read(backend, u).astype(np.float64), read(backend, vh).astype(np.float64)
    cu, rv = uv.shape[-1], vhv.shape[-2]
    close(uv.transpose(0, 2, 1) @ uv, np.broadcast_to(np.eye(cu), (batch, cu, cu)), dtype, "U^TU")
    close(vhv @ vhv.transpose(0, 2, 1), np.broadcast_to(np.eye(rv), (batch, rv, rv)), dtype,
          "Vh Vh^T")  # fmt: skip
    close((uv[..., :k] * sv[:, None, :]) @ vhv[:, :k, :], a, dtype, f"U S Vh, {layout}")


@pytest.mark.parametrize("name", LINALG_KERNELS)
def test_linalg_kernels_refuse_empty_and_mismatched_operands(backend, name):
    """Empty stacks never reach a kernel (the core builds those results): they are refused,
    as are outputs of the wrong shape; nothing is written first."""
    kernel = linalg_kernel(backend, name)
    f64 = "float64"
    empty = upload(backend, np.zeros((0, 2, 2)), f64)
    a = upload(backend, np.eye(2)[None], f64)
    wrong = compact_out(backend, (1, 3, 3), f64)
    info = compact_out(backend, (1,), "int64")
    calls = {
        "linalg_cholesky": [((empty, compact_out(backend, (0, 2, 2), f64),
                              compact_out(backend, (0,), "int64"))), (a, wrong, info)],
        "linalg_solve": [(a, upload(backend, np.ones((1, 3, 1)), f64),
                          compact_out(backend, (1, 2, 1), f64), info)],
        "linalg_slogdet": [(a, compact_out(backend, (2,), f64), compact_out(backend, (1,), f64))],
        "linalg_qr": [(a, wrong, compact_out(backend, (1, 2, 2), f64))],
        "linalg_eigh": [(a, compact_out(backend, (1, 3), f64), None)],
        "linalg_svd": [(a, None, compact_out(backend, (1, 3), f64), None),
                       (a, compact_out(backend, (1, 2, 2), f64), compact_out(backend, (1, 2), f64),
                        None)],
    }  # fmt: skip
    for args in calls[name]:
        with pytest.raises((ValueError, TypeError, IndexError)):
            kernel(*args)
