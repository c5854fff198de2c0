"""Helpers for conformance tests: compact outputs, reading buffers back, tolerant comparison."""

from __future__ import annotations

import numpy as np

from plugrad.backend.protocol import Strided
from plugrad.testing.strategies import NUMPY_DTYPES

EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
RTOL = {"float32": 1e-5, "float64": 1e-12}
ATOL = {"float32": 1e-6, "float64": 1e-12}
SENTINEL = {"float32": 7.25, "float64": 7.25, "int64": 7, "bool": True}


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
    """Exact for int64/bool; for floats rtol/atol by dtype, atol widened for a sum of `k` terms
    of magnitude `scale` (matmul, conv, reductions)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape} {msg}"
    if dtype in ("int64", "bool"):
        np.testing.assert_array_equal(actual, expected.astype(NUMPY_DTYPES[dtype]), err_msg=msg)
        return
    atol = ATOL[dtype] + 4 * EPS[dtype] * max(k, 1) * scale
    rtol = RTOL[dtype] + 2 * EPS[dtype] * max(k, 1)
    np.testing.assert_allclose(
        actual.astype(np.float64), np.asarray(expected, dtype=np.float64),
        rtol=rtol, atol=atol, equal_nan=True, err_msg=msg,
    )  # fmt: skip
