"""Every dtype on cuda, bit for bit against c_cpu (which matches the NumPy reference): casts
between every pair over edge values (float -> narrow integers through int32 as NumPy on x86,
float64 -> 16 bits rounding once), wrapping integer arithmetic and reductions, 16-bit float
arithmetic in float32 rounded once, scatter_add on elements narrower than a word, and the
float32-accumulating GEMM, convolution and reductions of 16-bit floats."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import plugrad
from plugrad.backend.protocol import Strided
from plugrad_cuda import dtypes

ALL = dtypes.NAMES
INTS = ("int8", "int16", "int32", "uint8", "int64")
HALVES = ("float16", "bfloat16")

FLOAT_EDGES = [0.0, -0.0, 0.5, 1.5, -2.5, 2.5, 1 / 3, 127.9, 128.0, -128.5, -129.0, 255.5,
               256.0, 300.7, 32767.5, 32768.0, -32769.0, 65504.0, 65519.9, 65520.0, 1e5,
               2.0**31, -(2.0**31) - 1, 3e9, -3e9, 2.0**63, 1e20, -1e20, 3.4e38, 1e300,
               np.inf, -np.inf, np.nan, 1e-8, 6e-8, 2.0**-25, 3 * 2.0**-26, 1e-40,
               1.0 + 2.0**-11, 1.0 + 2.0**-11 + 2.0**-40, 1.0 + 2.0**-8 + 2.0**-30]  # fmt: skip
INT_EDGES = [0, 1, -1, 2, 127, 128, 255, 256, -128, -129, 32767, 32768, -32769, 65504, 65519,
             65520, 65536, 2**24 + 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1,
             -(2**63)]  # fmt: skip


def _numpy_dtype(name: str):
    return dtypes.BY_NAME[name].numpy


def _edges(name: str) -> np.ndarray:
    if name == "bool":
        return np.array([True, False, True, True, False])
    if name in INTS:
        return np.array(INT_EDGES, dtype=np.int64).astype(_numpy_dtype(name))
    with np.errstate(all="ignore"):
        if name == "bfloat16":
            return np.array(FLOAT_EDGES, dtype=np.float32).astype(ml_dtypes.bfloat16)
        return np.array(FLOAT_EDGES, dtype=np.float64).astype(_numpy_dtype(name))


@pytest.fixture(scope="module")
def backends():
    return plugrad.device("c_cpu").backend, plugrad.device("cuda").backend


def _view(backend, host: np.ndarray) -> Strided:
    host = np.ascontiguousarray(host)
    strides = tuple(s // host.itemsize for s in host.strides)
    return Strided(backend.from_numpy(host), host.shape, strides, 0, dtypes.FROM_NUMPY[host.dtype])


def _empty(backend, shape, dtype: str) -> Strided:
    strides = tuple(int(np.prod(shape[d + 1 :])) for d in range(len(shape)))
    return Strided(backend.allocate(int(np.prod(shape)), dtype), tuple(shape), strides, 0, dtype)


def _bits(backend, view) -> bytes:
    return np.asarray(backend.to_numpy(view)).tobytes()


def test_cuda_declares_every_plugrad_dtype(backends):
    assert set(backends[1].dtypes) == set(plugrad.dtypes.ALL)


@pytest.mark.parametrize("target", ALL)
@pytest.mark.parametrize("source", ALL)
def test_casts_between_every_pair_match_c_cpu_bit_for_bit(backends, source, target):
    host = _edges(source)
    got = []
    for backend in backends:
        x = _view(backend, host)
        out = _empty(backend, host.shape, target)
        backend.cast(x, out)
        got.append(_bits(backend, out))
    assert got[1] == got[0], (source, target)


def _ints(dtype: str, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(_numpy_dtype(dtype))
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=_numpy_dtype(dtype))


def _floats(dtype: str, shape, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(shape) * 4
    return values.astype(np.float32).astype(_numpy_dtype(dtype))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "bitwise_and", "bitwise_xor", "bitwise_left_shift",
                                "bitwise_right_shift", "lt", "eq"])  # fmt: skip
@pytest.mark.parametrize("dtype", INTS)
def test_integer_arithmetic_wraps_as_on_c_cpu(backends, dtype, op):
    a = _ints(dtype, (5, 67), 1)
    b = _ints(dtype, (5, 67), 2)
    if op == "pow" or "shift" in op:
        b = (np.abs(b.astype(np.int64)) % 12).astype(a.dtype)
    if op == "div":
        b[0, :5] = 0
        a[0, :2] = 0
    got = []
    for backend in backends:
        out = _empty(backend, a.shape, "bool" if op in ("lt", "eq") else dtype)
        backend.binary(op, _view(backend, a), _view(backend, b), out)
        got.append(_bits(backend, out))
    assert got[1] == got[0]


@pytest.mark.parametrize("op", ["add", "mul", "div", "pow", "maximum", "lt"])
@pytest.mark.parametrize("dtype", HALVES)
def test_16_bit_float_arithmetic_and_scalars_round_once_as_on_c_cpu(backends, dtype, op):
    a = _floats(dtype, (4, 99), 3)
    b = _floats(dtype, (4, 99), 4)
    if op == "pow":
        a = np.abs(a)
    got = []
    for backend in backends:
        kind = "bool" if op == "lt" else dtype
        out, out_scalar = _empty(backend, a.shape, kind), _empty(backend, a.shape, kind)
        backend.binary(op, _view(backend, a), _view(backend, b), out)
        backend.scalar(op, _view(backend, a), 1.0 / 3.0, out_scalar, True)
        got.append(_bits(backend, out) + _bits(backend, out_scalar))
    assert got[1] == got[0]


UNARY_CASES = [
    (dtype, op)
    for dtype in ("int8", "int32", "uint8", "float16", "bfloat16")
    for op in ("exp", "neg", "abs", "sqrt", "sign", "floor", "bitwise_not")
    if op != "bitwise_not" or dtype not in HALVES  # bitwise ops take integers and bool
]


@pytest.mark.parametrize(("dtype", "op"), UNARY_CASES)
def test_unary_ops_match_c_cpu(backends, dtype, op):
    host = _ints(dtype, (3, 50), 5) if dtype in INTS else _floats(dtype, (3, 50), 5)
    got = []
    for backend in backends:
        out = _empty(backend, host.shape, dtype)
        backend.unary(op, _view(backend, host), out)
        got.append(np.asarray(backend.to_numpy(out)).astype(np.float64))
    if dtype in HALVES and op in ("exp", "sqrt"):  # host libm may differ by an ulp in float32
        np.testing.assert_allclose(got[1], got[0], rtol=1e-2, equal_nan=True)
    else:
        np.testing.assert_array_equal(got[1], got[0])


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("dtype", ("int8", "int16", "int32", "uint8"))
@pytest.mark.parametrize(("shape", "axes"), [((6, 300), (1,)), ((3, 70000), (1,))])
def test_integer_reductions_wrap_in_their_dtype(backends, dtype, op, shape, axes):
    host = _ints(dtype, shape, 6)
    got = []
    for backend in backends:
        out = _empty(backend, (shape[0],), dtype)
        backend.reduce(op, _view(backend, host), axes, out)
        got.append(_bits(backend, out))
    assert got[1] == got[0]


@pytest.mark.parametrize("op", ["sum", "max"])
@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize(("shape", "axes"), [((6, 300), (1,)), ((2, 70000), (1,))])
def test_16_bit_float_reductions_accumulate_in_float32(backends, dtype, op, shape, axes):
    host = _floats(dtype, shape, 7)
    got = []
    for backend in backends:
        out = _empty(backend, (shape[0],), dtype)
        backend.reduce(op, _view(backend, host), axes, out)
        got.append(np.asarray(backend.to_numpy(out)).astype(np.float64))
    exact = np.asarray(host, dtype=np.float64)
    exact = exact.sum(axis=1) if op == "sum" else exact.max(axis=1)
    # float32 accumulation rounded once: well within one 16-bit ulp of the float64 result
    tol = 2.0**-7 if dtype == "bfloat16" else 2.0**-10
    np.testing.assert_allclose(got[1], exact, rtol=tol, atol=tol * np.abs(host).max())
    np.testing.assert_allclose(got[1], got[0], rtol=tol, atol=tol * np.abs(host).max())


@pytest.mark.parametrize("dtype", ("int8", "int16", "uint8", "int32", "float16", "bfloat16"))
def test_scatter_add_into_narrow_elements_matches_c_cpu(backends, dtype):
    """Neighbouring 1- and 2-byte elements share a 32-bit word: the compare-and-swap on the word
    must not lose either update."""
    rng = np.random.default_rng(8)
    src = _ints(dtype, (400,), 9) if dtype in INTS else _floats(dtype, (400,), 9) / 8
    index = rng.integers(0, 7, size=400)
    got = []
    for backend in backends:
        out = _view(backend, np.zeros(7, dtype=_numpy_dtype(dtype)))
        backend.scatter_add(out, 0, _view(backend, index), _view(backend, src))
        got.append(np.asarray(backend.to_numpy(out)).astype(np.float64))
    if dtype in INTS:
        np.testing.assert_array_equal(got[1], got[0])
    else:  # the order of the rounded additions differs between the backends
        np.testing.assert_allclose(got[1], got[0], rtol=0.05, atol=0.5)


@pytest.mark.parametrize("dtype", HALVES)
def test_16_bit_float_matmul_and_conv2d_accumulate_in_float32(backends, dtype):
    a, b = _floats(dtype, (2, 33, 70), 10), _floats(dtype, (2, 70, 21), 11)
    x, w = _floats(dtype, (2, 3, 9, 9), 12), _floats(dtype, (4, 3, 3, 3), 13)
    got = []
    for backend in backends:
        out = _empty(backend, (2, 33, 21), dtype)
        backend.matmul(_view(backend, a), _view(backend, b), out)
        conv = _empty(backend, (2, 4, 7, 7), dtype)
        backend.conv2d(_view(backend, x), _view(backend, w), conv, (1, 1), (0, 0), (1, 1), 1)
        got.append((np.asarray(backend.to_numpy(out)), np.asarray(backend.to_numpy(conv))))
    exact = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    tol = 2.0**-7 if dtype == "bfloat16" else 2.0**-10
    scale = np.abs(exact).max()
    np.testing.assert_allclose(got[1][0].astype(np.float64), exact, rtol=tol, atol=tol * scale)
    for ours, theirs in zip(got[1], got[0], strict=True):
        np.testing.assert_allclose(
            ours.astype(np.float64),
            theirs.astype(np.float64),
            rtol=tol,
            atol=tol * np.abs(theirs.astype(np.float64)).max(),
        )


@pytest.mark.parametrize("dtype", ALL)
def test_sort_and_cumsum_of_every_dtype_match_c_cpu(backends, dtype):
    host = _edges(dtype)[:20].reshape(4, 5) if dtype != "bool" else _edges(dtype)[:4].reshape(2, 2)
    got = []
    for backend in backends:
        values = _empty(backend, host.shape, dtype)
        indices = _empty(backend, host.shape, "int64")
        backend.sort(_view(backend, host), 1, False, values, indices)
        scanned = _empty(backend, host.shape, dtype)
        backend.scan("max", _view(backend, host), 1, scanned, None)
        got.append(_bits(backend, values) + _bits(backend, indices) + _bits(backend, scanned))
    assert got[1] == got[0]
