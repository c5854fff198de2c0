"""Helpers for conformance tests: compact outputs, reading buffers back, tolerant comparison."""

from __future__ import annotations

import numpy as np
import pytest

from plugrad.backend.protocol import Strided
from plugrad.dtypes import finfo
from plugrad.testing.strategies import FLOAT_DTYPES, HALF_DTYPES, NUMPY_DTYPES

EPS = {d: finfo(d).eps for d in FLOAT_DTYPES}
# The precision results are computed in: float16 and bfloat16 in float32, then rounded once.
ACC_EPS = {d: EPS["float32"] if d in HALF_DTYPES else EPS[d] for d in FLOAT_DTYPES}
# float32 and float64 leave room for libm differences of a few ulp. A 16-bit result is a
# float32 value rounded once, compared with the float64 oracle rounded once: the two are the
# same or adjacent 16-bit values, at most one ulp (<= eps |x|) apart; subnormals by atol.
RTOL = {"float32": 1e-5, "float64": 1e-12} | {d: 2 * EPS[d] for d in HALF_DTYPES}
ATOL = {"float32": 1e-6, "float64": 1e-12} | {d: finfo(d).smallest_normal for d in HALF_DTYPES}
# Exact in every dtype, and unlikely as a kernel's result.
SENTINEL = {d: True if d == "bool" else 7.25 if d in FLOAT_DTYPES else 7 for d in NUMPY_DTYPES}


def need(backend, dtype: str) -> None:
    """Skip when the backend does not declare `dtype`."""
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} does not support {dtype}")


def row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Compact (C-order) element strides of `shape`."""
    strides, step = [], 1
    for side in reversed(shape):
        strides.append(step)
        step *= max(side, 1)
    return tuple(reversed(strides))


def compact_out(backend, shape: tuple[int, ...], dtype: str) -> Strided:
    """A compact output view prefilled with a sentinel, so unwritten elements show."""
    size = int(np.prod(shape, dtype=np.int64))
    host = np.full(size, SENTINEL[dtype], dtype=NUMPY_DTYPES[dtype])
    return Strided(backend.from_numpy(host), tuple(shape), row_major(shape), 0, dtype)


def upload(backend, array: np.ndarray, dtype: str | None = None) -> Strided:
    """A compact view of a fresh backend copy of `array`."""
    dtype = dtype or np.dtype(array.dtype).name
    host = np.ascontiguousarray(array, dtype=NUMPY_DTYPES[dtype])
    return Strided(backend.from_numpy(host.reshape(-1).copy()), host.shape,
                   row_major(host.shape), 0, dtype)  # fmt: skip


def read(backend, x: Strided) -> np.ndarray:
    """A host copy of the view `x`, checked for shape and dtype."""
    backend.synchronize()
    result = np.array(backend.to_numpy(x), copy=True)
    assert result.shape == tuple(x.shape), f"to_numpy gave shape {result.shape}, not {x.shape}"
    assert result.dtype == NUMPY_DTYPES[x.dtype], f"to_numpy gave {result.dtype}, not {x.dtype}"
    return result


def read_flat(backend, buffer, size: int, dtype: str) -> np.ndarray:
    """The whole buffer as a 1-D host array (to see writes outside a view)."""
    return read(backend, Strided(buffer, (size,), (1,), 0, dtype))


def assert_close(actual, expected, dtype: str, k: int = 1, scale: float = 1.0, msg: str = ""):
    """Exact for integers and bool (`expected` wrapped to the dtype, as torch's integers wrap);
    for floats rtol/atol by dtype, widened for a sum of `k` terms of magnitude `scale` (matmul,
    conv, reductions) by the precision the sum is accumulated in. A 16-bit float result is
    compared with `expected` (the float64 oracle) rounded to its dtype."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape} {msg}"
    if dtype not in FLOAT_DTYPES:
        np.testing.assert_array_equal(actual, expected.astype(NUMPY_DTYPES[dtype]), err_msg=msg)
        return
    expected = np.asarray(expected, dtype=np.float64)
    if dtype in HALF_DTYPES:
        with np.errstate(over="ignore"):  # past the format's range: inf, as the backend's
            expected = expected.astype(NUMPY_DTYPES[dtype]).astype(np.float64)
    atol = ATOL[dtype] + 4 * ACC_EPS[dtype] * max(k, 1) * scale
    rtol = RTOL[dtype] + 2 * ACC_EPS[dtype] * max(k, 1)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=msg)  # fmt: skip
