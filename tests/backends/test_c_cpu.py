"""The c_cpu backend, kernel by kernel, against NumPy and the numpy_ref backend.

Operands are drawn in many layouts (compact, offset, strided, transposed, flipped, broadcast,
empty, 0-d) so the C iterators see every stride pattern the core can produce.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("plugrad_c_cpu")

import plugrad  # noqa: E402
from plugrad.backend import Strided  # noqa: E402
from plugrad.backend.protocol import (  # noqa: E402
    ARG_REDUCE_OPS,
    BINARY_OPS,
    COMPARISON_OPS,
    REDUCE_OPS,
    UNARY_OPS,
    missing_members,
)
from plugrad_c_cpu.backend import CBuffer, CCpuBackend  # noqa: E402
from plugrad_numpy_ref.backend import NumpyRefBackend  # noqa: E402

DTYPES = tuple(plugrad.dtypes.ALL)  # every dtype, float16 and bfloat16 included
NP = {name: d.numpy for name, d in plugrad.dtypes.ALL.items()}
FLOATS = tuple(d.name for d in plugrad.dtypes.FLOATING)
HALF = ("float16", "bfloat16")
NARROW_INTEGERS = ("int8", "int16", "int32", "uint8")
FLOATING_FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "erf")
LAYOUTS = ("compact", "offset", "step", "T", "flip", "step-T-flip-offset")

be = CCpuBackend()
ref = NumpyRefBackend()


def _seed(key) -> int:
    return zlib.crc32(repr(key).encode())


def compact_strides(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(out))


def view_of(backend, arr: np.ndarray, layout: str = "compact", rng=None) -> Strided:
    """A Strided of `backend` whose logical value is `arr`, stored in the given layout."""
    rng = rng or np.random.default_rng(0)
    arr = np.asarray(arr)
    dtype = arr.dtype
    name = {np.dtype(v): k for k, v in NP.items()}[dtype]
    shape = arr.shape
    nd = arr.ndim
    if arr.size == 0 or layout == "compact" or arr.ndim == 0:
        off = 2 if (layout != "compact" and arr.size) else 0
        flat = np.zeros(arr.size + off, dtype)
        flat[off:] = arr.reshape(-1)
        return Strided(backend.from_numpy(flat), shape, compact_strides(shape), off, name)
    perm = list(range(nd))
    if "T" in layout:
        perm = list(rng.permutation(nd)) if nd > 1 else perm
        if nd > 1 and perm == sorted(perm):
            perm = perm[::-1]
    step = 2 if "step" in layout else 1
    off = 3 if "offset" in layout else 0
    bshape = [shape[p] * step for p in perm]
    total = math.prod(bshape)
    flat = np.zeros(total + off + 1, dtype)
    base = flat[off : off + total].reshape(bshape)
    base = base[tuple(slice(None, None, step) for _ in bshape)]
    v = base.transpose(np.argsort(perm))
    if "flip" in layout:
        v = v[tuple(slice(None, None, -1) if i % 2 == 0 else slice(None) for i in range(nd))]
    v[...] = arr
    item = dtype.itemsize
    strides = tuple(s // item for s in v.strides)
    offset = (v.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // item
    return Strided(backend.from_numpy(flat), shape, strides, offset, name)


def broadcast_view(backend, small: np.ndarray, shape) -> Strided:
    """A view of `small` broadcast (stride 0) to `shape`."""
    v = view_of(backend, small, "offset")
    pad = len(shape) - small.ndim
    strides = (0,) * pad + tuple(
        0 if s == 1 and t != 1 else st for s, t, st in zip(small.shape, shape[pad:], v.strides)
    )
    return Strided(v.buffer, tuple(shape), strides, v.offset, v.dtype)


def empty_out(backend, shape, dtype, layout="compact", rng=None) -> Strided:
    return view_of(backend, np.zeros(shape, NP[dtype]), layout, rng)


def values(rng, shape, dtype, positive=False):
    return np.asarray(_values(rng, shape, dtype, positive))


def _values(rng, shape, dtype, positive):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype not in FLOATS:  # integers: small values every integer dtype holds
        lo = 1 if positive or dtype == "uint8" else -6
        return rng.integers(lo, 7, size=shape).astype(NP[dtype])
    x = rng.standard_normal(shape) * 2
    if positive:
        x = np.abs(x) + 0.1
    return x.astype(NP[dtype])


def tol(dtype):
    """float32 and float64 to their libraries' accuracy; 16-bit floats to one unit in the last
    place of the format (both backends compute in float32 and round once, so a last-bit
    difference of float32 math can move the rounding by one step)."""
    if dtype in HALF:
        eps = float(plugrad.finfo(dtype).eps)
        return dict(rtol=eps, atol=eps * 1e-3)
    return {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-13)}.get(
        dtype, dict(rtol=0, atol=0)
    )


def assert_close(got, want, dtype, **kw):
    options = {**tol(dtype), **kw}
    assert got.shape == want.shape, (got.shape, want.shape)
    if dtype in FLOATS:
        wide = (lambda a: np.asarray(a, np.float32)) if dtype in HALF else np.asarray
        np.testing.assert_allclose(wide(got), wide(want), equal_nan=True, **options)
    else:
        np.testing.assert_array_equal(got, want)


def ref_result(fn, *arrays, out_shape, out_dtype):
    """Run the same kernel on numpy_ref with compact operands; None if NumPy refuses it."""
    views = [view_of(ref, a) for a in arrays]
    out = empty_out(ref, out_shape, out_dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(ref, *views, out)
    except TypeError:
        return None
    return ref.to_numpy(out)


SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3), (4, 3, 5), (2, 3, 2, 4), (70, 600)]


# --- protocol and plumbing -------------------------------------------------------------------
def test_protocol_complete_and_plugin():
    assert missing_members(be) == []
    assert be.name == "c_cpu" and be.is_host and be.priority == 100
    assert set(be.dtypes) == set(DTYPES)
    import plugrad_c_cpu

    backends = plugrad_c_cpu.plugrad_backends()
    assert [b.name for b in backends] == ["c_cpu"]
    from importlib import metadata

    eps = metadata.entry_points(group="plugrad.backends")
    assert any(ep.name == "c_cpu" and ep.value == "plugrad_c_cpu" for ep in eps)


@pytest.mark.skipif(
    not os.environ.get("PLUGRAD_C_CPU_EXPECT_ASAN"), reason="only under make test-asan"
)
def test_running_the_sanitized_build():
    import plugrad_c_cpu._native as native

    assert "asan" in native.__file__


def test_buffers_alignment_accounting_and_sharing():
    before = be.allocated_bytes()
    buf = be.allocate(1000, "float64")
    assert isinstance(buf, CBuffer)
    assert int(buf.array.ctypes.data) % 64 == 0
    assert be.allocated_bytes() == before + 8000
    view = be.to_numpy(Strided(buf, (10, 100), (100, 1), 0, "float64"))
    del buf
    assert be.allocated_bytes() == before + 8000  # the NumPy view keeps the memory alive
    view[...] = 1.0
    del view
    assert be.allocated_bytes() == before
    for dtype in DTYPES:
        empty = be.allocate(0, dtype)
        assert be.to_numpy(Strided(empty, (0, 3), (3, 1), 0, dtype)).shape == (0, 3)
    assert be.allocate(0, "bool").size == 0
    # shared memory both ways
    arr = np.arange(12, dtype=np.float32)
    shared = be.from_numpy(arr, copy=False)
    v = be.to_numpy(Strided(shared, (3, 4), (4, 1), 0, "float32"))
    assert np.shares_memory(v, arr)
    be.fill(Strided(shared, (2,), (1,), 5, "float32"), 7)
    assert arr[5] == 7 and arr[6] == 7
    copied = be.from_numpy(arr, copy=True)
    assert not np.shares_memory(be.to_numpy(Strided(copied, (12,), (1,), 0, "float32")), arr)
    bools = be.from_numpy(np.array([True, False, True]))
    assert bools.dtype == "bool" and bools.array.itemsize == 1
    # to_numpy honours strides, offsets and negative strides without copying
    buf = be.from_numpy(np.arange(20, dtype=np.int64))
    got = be.to_numpy(Strided(buf, (3, 2), (-5, 2), 12, "int64"))
    np.testing.assert_array_equal(got, [[12, 14], [7, 9], [2, 4]])
    with pytest.raises(MemoryError):
        be.allocate(1 << 60, "float32")
    with pytest.raises(TypeError):
        be.allocate(3, "complex64")
    with pytest.raises(TypeError):
        be.from_numpy(np.zeros(3, np.uint32))
    for name in DTYPES:  # every plugrad dtype is stored at its own width, shared as it is
        array = np.zeros(3, NP[name])
        shared = be.from_numpy(array, copy=False)
        assert shared.dtype == name and shared.array.dtype == array.dtype
        assert shared.nbytes == array.nbytes


def test_validation_never_reaches_c():
    buf = be.allocate(10, "float32")
    out = be.allocate(10, "float32")
    good = Strided(out, (10,), (1,), 0, "float32")
    with pytest.raises(IndexError, match="outside its buffer"):
        be.unary("neg", Strided(buf, (10,), (1,), 1, "float32"), good)
    with pytest.raises(IndexError):
        be.unary("neg", Strided(buf, (10,), (-1,), 5, "float32"), good)
    with pytest.raises(IndexError):
        be.fill(Strided(buf, (2, 5), (5, 2), 0, "float32"), 1.0)
    with pytest.raises(TypeError, match="dtype"):
        be.unary("neg", Strided(buf, (10,), (1,), 0, "float64"), good)
    with pytest.raises(ValueError, match="shapes differ"):
        be.binary("add", good, Strided(buf, (5,), (1,), 0, "float32"), good)
    with pytest.raises(TypeError, match="c_cpu buffer"):
        be.unary("neg", Strided(np.zeros(10, np.float32), (10,), (1,), 0, "float32"), good)
    with pytest.raises(ValueError, match="unknown"):
        be.unary("nope", good, good)
    ints = be.allocate(4, "int64")
    iv = Strided(ints, (1, 2, 2), (4, 2, 1), 0, "int64")
    with pytest.raises(TypeError, match="float32, float64, float16, bfloat16, not int64"):
        be.matmul(iv, iv, iv)
    f = Strided(buf, (1, 2, 3), (6, 3, 1), 0, "float32")
    with pytest.raises(ValueError, match="do not match"):
        be.matmul(f, f, Strided(out, (1, 2, 3), (6, 3, 1), 0, "float32"))
    # gather/scatter indices out of range are refused, not followed
    x = view_of(be, np.arange(6, dtype=np.float32).reshape(2, 3))
    idx = view_of(be, np.array([[0, 3]], dtype=np.int64))
    with pytest.raises(IndexError):
        be.gather(x, 1, idx, empty_out(be, (1, 2), "float32"))
    with pytest.raises(IndexError):
        be.scatter_add(x, 1, view_of(be, np.array([[-1]], dtype=np.int64)), x)


def test_threads():
    n = be.get_num_threads()
    assert n >= 1
    rng = np.random.default_rng(1)
    a = values(rng, (300, 400), "float32")
    results = []
    try:
        for threads in (1, 2, 3):
            be.set_num_threads(threads)
            assert be.get_num_threads() == threads
            out = empty_out(be, a.shape, "float32")
            be.binary("mul", view_of(be, a, "T", rng), view_of(be, a), out)
            results.append(be.to_numpy(out).copy())
    finally:
        be.set_num_threads(n)
    for r in results:
        np.testing.assert_array_equal(r, a * a)
    with pytest.raises(ValueError):
        be.set_num_threads(0)


def test_env_thread_count():
    code = "from plugrad_c_cpu.backend import CCpuBackend; print(CCpuBackend().get_num_threads())"
    env = {**os.environ, "PLUGRAD_NUM_THREADS": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr


# --- elementwise -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", UNARY_OPS)
def test_unary(op, dtype):
    if op in FLOATING_FUNCTIONS and dtype in NARROW_INTEGERS:
        pytest.skip(
            f"{op} of {dtype} has no reference: NumPy computes it in float16 or float32 for "
            "integers narrower than int64, and the core never asks (it promotes to floating)"
        )
    rng = np.random.default_rng(_seed((op, dtype)))
    for i, shape in enumerate(SHAPES):
        x = values(rng, shape, dtype, positive=op in ("log", "sqrt") and i % 2 == 0)
        if dtype.startswith("float") and x.size > 3:
            x.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
        want = ref_result(lambda b, v, o: b.unary(op, v, o), x, out_shape=shape, out_dtype=dtype)
        if want is None:
            continue
        layout = LAYOUTS[i % len(LAYOUTS)]
        out = empty_out(be, shape, dtype, LAYOUTS[(i + 2) % len(LAYOUTS)], rng)
        be.unary(op, view_of(be, x, layout, rng), out)
        assert_close(be.to_numpy(out), want, dtype)


def test_unary_sigmoid_extremes():
    x = np.array([-1000, -100, -20, 0, 20, 100, 1000, np.nan], np.float32)
    for dtype in ("float32", "float64"):
        out = empty_out(be, x.shape, dtype)
        be.unary("sigmoid", view_of(be, x.astype(dtype)), out)
        got = be.to_numpy(out)
        assert np.all(np.isfinite(got[:-1])) and np.isnan(got[-1])
        assert got[0] == 0 and got[6] == 1 and got[3] == 0.5


BIN_OPS = BINARY_OPS + COMPARISON_OPS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", BIN_OPS)
def test_binary(op, dtype):
    rng = np.random.default_rng(_seed((op, dtype, 1)))
    out_dtype = "bool" if op in COMPARISON_OPS else dtype
    for i, shape in enumerate(SHAPES):
        a = values(rng, shape, dtype)
        b = values(rng, shape, dtype, positive=op == "div" and dtype == "int64" and i % 3 == 0)
        if op in ("eq", "ne", "le", "ge") and a.size:
            b.reshape(-1)[::2] = a.reshape(-1)[::2]
        if dtype.startswith("float") and a.size > 2:
            a.reshape(-1)[0] = np.nan
            b.reshape(-1)[1] = np.nan
        if op == "pow" and dtype.startswith("float"):
            a = np.abs(a)
        want = ref_result(
            lambda bk, x, y, o: bk.binary(op, x, y, o), a, b, out_shape=shape,
            out_dtype=out_dtype,
        )  # fmt: skip
        if want is None:
            continue
        out = empty_out(be, shape, out_dtype, LAYOUTS[(i + 1) % len(LAYOUTS)], rng)
        av = view_of(be, a, LAYOUTS[i % len(LAYOUTS)], rng)
        bv = view_of(be, b, LAYOUTS[(i + 3) % len(LAYOUTS)], rng)
        be.binary(op, av, bv, out)
        assert_close(be.to_numpy(out), want, out_dtype)


def test_int_pow_and_div_match_reference():
    a = np.array([2, -2, 1, -1, 0, 3, -1, 7, 0, 5], np.int64)
    b = np.array([-1, -3, -5, -3, -2, 40, -4, 0, 0, 0], np.int64)
    for op in ("pow", "div"):
        kernel = lambda bk, x, y, o, op=op: bk.binary(op, x, y, o)  # noqa: E731
        want = ref_result(kernel, a, b, out_shape=a.shape, out_dtype="int64")
        out = empty_out(be, a.shape, "int64")
        be.binary(op, view_of(be, a), view_of(be, b), out)
        np.testing.assert_array_equal(be.to_numpy(out), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_broadcast(dtype):
    rng = np.random.default_rng(7)
    shape = (40, 30, 50)
    for small_a, small_b in [((1, 30, 50), (40, 30, 1)), ((40, 1, 1), (1, 30, 50)), ((), (50,))]:
        a = values(rng, small_a, dtype)
        b = values(rng, small_b, dtype)
        for op in ("add", "mul", "maximum", "lt", "sub"):
            out_dtype = "bool" if op == "lt" else dtype
            want = ref_result(
                lambda bk, x, y, o, op=op: bk.binary(op, x, y, o),
                np.broadcast_to(a, shape).copy(), np.broadcast_to(b, shape).copy(),
                out_shape=shape, out_dtype=out_dtype,
            )  # fmt: skip
            if want is None:
                continue
            out = empty_out(be, shape, out_dtype)
            be.binary(op, broadcast_view(be, a, shape), broadcast_view(be, b, shape), out)
            assert_close(be.to_numpy(out), want, out_dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar(dtype):
    rng = np.random.default_rng(3)
    shape = (6, 7)
    a = values(rng, shape, dtype, positive=True)
    scalars = {"float32": 1.5, "float64": -2.25, "bool": True, "float16": 0.1, "bfloat16": 0.1}
    scalars.update({name: 3 for name in DTYPES if name not in scalars})
    for op in BIN_OPS:
        for reflected in (False, True):
            value = scalars[dtype]
            out_dtype = "bool" if op in COMPARISON_OPS else dtype

            def kernel(bk, x, o, op=op, value=value, reflected=reflected):
                bk.scalar(op, x, value, o, reflected)

            want = ref_result(kernel, a, out_shape=shape, out_dtype=out_dtype)
            if want is None:
                continue
            out = empty_out(be, shape, out_dtype, "step", rng)
            be.scalar(op, view_of(be, a, "T-flip", rng), value, out, reflected)
            assert_close(be.to_numpy(out), want, out_dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(dtype):
    rng = np.random.default_rng(4)
    for i, shape in enumerate(SHAPES):
        c = np.asarray(rng.random(shape) < 0.4)
        a, b = values(rng, shape, dtype), values(rng, shape, dtype)
        out = empty_out(be, shape, dtype, LAYOUTS[i % len(LAYOUTS)], rng)
        be.where(
            view_of(be, c, LAYOUTS[(i + 1) % len(LAYOUTS)], rng),
            view_of(be, a, LAYOUTS[(i + 2) % len(LAYOUTS)], rng),
            view_of(be, b, LAYOUTS[(i + 3) % len(LAYOUTS)], rng),
            out,
        )
        np.testing.assert_array_equal(be.to_numpy(out), np.where(c, a, b))


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_cast(src, dst):
    rng = np.random.default_rng(5)
    x = values(rng, (9, 11), src)
    if src.startswith("float"):
        x.reshape(-1)[:5] = [np.nan, np.inf, -np.inf, 2.7, -2.7]
    want = ref_result(lambda b, v, o: b.cast(v, o), x, out_shape=x.shape, out_dtype=dst)
    out = empty_out(be, x.shape, dst, "flip", rng)
    be.cast(view_of(be, x, "step-T-flip-offset", rng), out)
    assert_close(be.to_numpy(out), want, dst)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_compact_assign(dtype):
    rng = np.random.default_rng(6)
    for i, shape in enumerate(SHAPES):
        x = values(rng, shape, dtype)
        out = empty_out(be, shape, dtype, LAYOUTS[i % len(LAYOUTS)], rng)
        be.fill(out, 1.75 if dtype.startswith("float") else 3)
        want = np.full(shape, 1.75 if dtype.startswith("float") else 3).astype(NP[dtype])
        np.testing.assert_array_equal(be.to_numpy(out), want)
        compact = empty_out(be, shape, dtype)
        be.compact(view_of(be, x, LAYOUTS[(i + 1) % len(LAYOUTS)], rng), compact)
        np.testing.assert_array_equal(be.to_numpy(compact), x)
        be.assign(view_of(be, x, LAYOUTS[(i + 4) % len(LAYOUTS)], rng), out)
        np.testing.assert_array_equal(be.to_numpy(out), x)
    # fill and assign through a broadcast source and into a strided window of a bigger buffer
    big = be.from_numpy(np.zeros(50, NP[dtype]))
    window = Strided(big, (3, 4), (-10, 2), 25, dtype)
    be.assign(broadcast_view(be, values(rng, (4,), dtype), (3, 4)), window)
    expect = np.zeros(50, NP[dtype])
    expect_view = np.lib.stride_tricks.as_strided(
        expect[25:], (3, 4), (-10 * expect.itemsize, 2 * expect.itemsize)
    )
    expect_view[...] = be.to_numpy(window)
    np.testing.assert_array_equal(be.to_numpy(Strided(big, (50,), (1,), 0, dtype)), expect)


# --- reductions ------------------------------------------------------------------------------
def _reduce_case(op, dtype, shape, axes, layout, rng, check_ref=True):
    x = values(rng, shape, dtype)
    if op == "prod" and dtype.startswith("float"):
        x = (np.sign(x) * (0.9 + 0.2 * rng.random(shape))).astype(NP[dtype])
    out_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    if op in ("max", "min") and math.prod(shape[a] for a in axes) == 0:
        return
    want = ref_result(lambda b, v, o: b.reduce(op, v, axes, o), x, out_shape=out_shape,
                      out_dtype=dtype)  # fmt: skip
    out = empty_out(be, out_shape, dtype)
    be.reduce(op, view_of(be, x, layout, rng), axes, out)
    n = max(math.prod(shape[a] for a in axes), 1)
    extra = {
        "float32": {"rtol": 1e-5 * math.sqrt(n) + 2e-5, "atol": 1e-5 * math.sqrt(n)},
        "float64": {"rtol": 1e-12, "atol": 1e-13 * math.sqrt(n) * 10},
    }
    assert_close(be.to_numpy(out), want, dtype, **extra.get(dtype, {}))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce(op, dtype):
    rng = np.random.default_rng(_seed((op, dtype, 2)))
    cases = [
        ((), ()), ((5,), (0,)), ((5,), ()), ((0,), (0,)), ((3, 0), (1,)), ((3, 0), (0,)),
        ((4, 5), (0,)), ((4, 5), (1,)), ((4, 5), (0, 1)), ((3, 4, 5), (0, 2)), ((3, 4, 5), (1,)),
        ((2, 3, 4, 5), (1, 3)), ((2, 3, 4, 5), (0, 1, 2)), ((200, 300), (0,)),
        ((200, 300), (1,)), ((300, 200), (0, 1)), ((6, 1, 40, 33), (0, 3)), ((3, 70000), (1,)),
        ((70000, 3), (0,)), ((5, 40, 500), (1,)),
    ]  # fmt: skip
    for i, (shape, axes) in enumerate(cases):
        _reduce_case(op, dtype, shape, axes, LAYOUTS[i % len(LAYOUTS)], rng)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple),
    data=st.data(),
)
def test_reduce_hypothesis(shape, data):
    axes = (
        tuple(sorted(data.draw(st.sets(st.integers(0, max(len(shape) - 1, 0)))))) if shape else ()
    )
    op = data.draw(st.sampled_from(REDUCE_OPS))
    dtype = data.draw(st.sampled_from(DTYPES))
    layout = data.draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    _reduce_case(op, dtype, shape, axes, layout, rng)


def test_reduce_nan_and_precision():
    x = np.ones((3, 1000), np.float32)
    x[1, 500] = np.nan
    for op in ("max", "min", "sum"):
        out = empty_out(be, (3,), "float32")
        be.reduce(op, view_of(be, x), (1,), out)
        got = be.to_numpy(out)
        assert np.isnan(got[1]) and not np.isnan(got[0])
    big = np.full(1 << 22, 0.1, np.float32)
    out = empty_out(be, (), "float32")
    be.reduce("sum", view_of(be, big), (0,), out)
    assert abs(float(be.to_numpy(out)) - big.astype(np.float64).sum()) < 1e-3 * big.size * 0.1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ARG_REDUCE_OPS)
def test_arg_reduce(op, dtype):
    rng = np.random.default_rng(8)
    for i, (shape, axis) in enumerate(
        [((7,), 0), ((4, 5), 0), ((4, 5), 1), ((3, 4, 5), 1), ((0, 4), 1), ((300, 200), 0)]
    ):
        x = values(rng, shape, dtype)
        if dtype == "float64" and x.size > 10:
            x.reshape(-1)[[3, 7]] = np.nan
        if dtype in ("int64", "float32") and x.size:
            x.reshape(-1)[::3] = x.reshape(-1)[0]  # ties: the first index wins
        out_shape = tuple(s for d, s in enumerate(shape) if d != axis)
        kernel = lambda b, v, o, axis=axis: b.arg_reduce(op, v, axis, o)  # noqa: E731
        want = ref_result(kernel, x, out_shape=out_shape, out_dtype="int64")
        out = empty_out(be, out_shape, "int64")
        be.arg_reduce(op, view_of(be, x, LAYOUTS[i % len(LAYOUTS)], rng), axis, out)
        np.testing.assert_array_equal(be.to_numpy(out), want)


# --- matmul ----------------------------------------------------------------------------------
def _matmul_case(dtype, batch_a, batch_b, m, k, n, layout_a, layout_b, rng):
    a = rng.standard_normal((batch_a, m, k)).astype(dtype)
    b = rng.standard_normal((batch_b, k, n)).astype(dtype)
    batch = max(batch_a, batch_b)
    out = empty_out(be, (batch, m, n), dtype)
    av = view_of(be, a, layout_a, rng)
    bv = view_of(be, b, layout_b, rng)
    if batch_a == 1 and batch > 1:
        av = Strided(av.buffer, (batch, m, k), (0, *av.strides[1:]), av.offset, dtype)
    if batch_b == 1 and batch > 1:
        bv = Strided(bv.buffer, (batch, k, n), (0, *bv.strides[1:]), bv.offset, dtype)
    be.matmul(av, bv, out)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    scale = math.sqrt(max(k, 1))
    rtol, atol = (1e-4, 1e-5 * scale) if dtype == "float32" else (1e-11, 1e-12 * scale)
    np.testing.assert_allclose(be.to_numpy(out), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("kernel", ["avx512", "avx2", "portable"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_sizes(dtype, kernel):
    used = be.set_gemm_kernel(kernel)
    try:
        rng = np.random.default_rng(9)
        sizes = [1, 7, 33, 257]
        for i, m in enumerate(sizes):
            for j, k in enumerate(sizes):
                n = sizes[(i + j) % len(sizes)]
                layout_a = ("compact", "T", "step-T-flip-offset", "flip")[(i + j) % 4]
                layout_b = ("T", "compact", "step", "flip-offset")[(i + 2 * j) % 4]
                _matmul_case(dtype, 1, 1, m, k, n, layout_a, layout_b, rng)
        _matmul_case(dtype, 1, 1, 300, 600, 150, "compact", "compact", rng)
    finally:
        be.set_gemm_kernel(None)
    assert used in ("avx512", "avx2", "portable")


@pytest.mark.parametrize("kernel", ["avx512", "avx2", "portable"])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_few_rows(kernel, threads):
    """Up to 64 rows of A: the threads split B's panels, each read where it lies when B's rows
    are contiguous and packed otherwise (B transposed or strided, or a last panel narrower than
    the micro-kernel's, so that no read runs past B); gemm.c's few-rows path. 65 rows take the
    shared packed path, for comparison."""
    used = be.set_gemm_kernel(kernel)
    before = be.get_num_threads()
    be.set_num_threads(threads)
    try:
        rng = np.random.default_rng(12)
        for dtype in ("float32", "float64"):
            for m in (1, 5, 12, 13, 32, 64, 65):
                for i, (n, k) in enumerate(((32, 1), (33, 300), (100, 7), (16, 32), (1024, 256),
                                            (256, 1024))):  # fmt: skip
                    layout_b = ("compact", "offset", "T", "step", "flip")[(m + i) % 5]
                    _matmul_case(dtype, 1, 1, m, k, n, "compact", layout_b, rng)
            _matmul_case(dtype, 3, 1, 32, 40, 70, "T", "offset", rng)  # one B for a batch
            _matmul_case(dtype, 32, 32, 32, 16, 32, "compact", "T", rng)  # attention's q k^T
    finally:
        be.set_gemm_kernel(None)
        be.set_num_threads(before)
    assert used in ("avx512", "avx2", "portable")


def test_matmul_batched_and_edges():
    rng = np.random.default_rng(10)
    for dtype in ("float32", "float64"):
        _matmul_case(dtype, 5, 5, 9, 17, 13, "T", "step", rng)
        _matmul_case(dtype, 1, 6, 8, 8, 40, "compact", "flip", rng)
        _matmul_case(dtype, 4, 1, 65, 3, 31, "offset", "T", rng)
        _matmul_case(dtype, 3, 3, 4, 0, 5, "compact", "compact", rng)  # k = 0 gives zeros
        _matmul_case(dtype, 2, 2, 130, 70, 100, "compact", "compact", rng)
        _matmul_case(dtype, 64, 64, 20, 20, 20, "compact", "T", rng)
        out = empty_out(be, (2, 0, 3), dtype)
        a = view_of(be, np.zeros((2, 0, 4), dtype))
        be.matmul(a, view_of(be, np.zeros((2, 4, 3), dtype)), out)
    # a non-compact out is written through a scratch buffer
    a = rng.standard_normal((1, 5, 6)).astype(np.float32)
    b = rng.standard_normal((1, 6, 7)).astype(np.float32)
    out = empty_out(be, (1, 5, 7), "float32", "T", rng)
    be.matmul(view_of(be, a), view_of(be, b), out)
    np.testing.assert_allclose(be.to_numpy(out), a @ b, rtol=1e-5, atol=1e-5)


# --- convolution -----------------------------------------------------------------------------
CONV_CASES = [
    # (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 9, 9, 6, 3, 2, (2, 1), (0, 2), (1, 2), 2),
    (3, 6, 5, 8, 6, 1, 1, (1, 1), (0, 0), (1, 1), 3),
    (2, 2, 10, 11, 5, 4, 3, (3, 2), (2, 1), (2, 1), 1),
    (1, 8, 6, 6, 8, 3, 3, (1, 1), (1, 1), (1, 1), 8),
    (2, 16, 12, 12, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 1, 2, 2, 1, 3, 3, (1, 1), (0, 0), (1, 1), 1),  # empty output
    # the forward over small images is one GEMM a chunk of images (gemm.c's conv2d_batched):
    (130, 1, 32, 32, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # two chunks, 128 + 2 images
    (5, 4, 6, 6, 6, 3, 3, (2, 2), (1, 1), (1, 1), 2),  # groups, stride 2
    (2, 16, 20, 20, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # big enough for one GEMM an image
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case, dtype):
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = case
    rng = np.random.default_rng(11)
    oh = max((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1, 0)
    ow = max((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1, 0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    g = rng.standard_normal((n, o, oh, ow)).astype(dtype)
    geo = (stride, padding, dilation, groups)
    t = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)

    def run(backend, kernel, a, b, out_shape):
        out = empty_out(backend, out_shape, dtype)
        getattr(backend, kernel)(view_of(backend, a), view_of(backend, b), out, *geo)
        return backend.to_numpy(out)

    for kernel, a, b, shape in (
        ("conv2d", x, wt, g.shape),
        ("conv2d_backward_input", g, wt, x.shape),
        ("conv2d_backward_weight", x, g, wt.shape),
    ):
        np.testing.assert_allclose(run(be, kernel, a, b, shape), run(ref, kernel, a, b, shape), **t)


def test_conv2d_rejects_bad_geometry():
    x = view_of(be, np.zeros((1, 2, 5, 5), np.float32))
    w = view_of(be, np.zeros((3, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        be.conv2d(x, w, empty_out(be, (1, 3, 5, 5), "float32"), (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        be.conv2d(x, w, empty_out(be, (1, 3, 3, 3), "float32"), (0, 1), (0, 0), (1, 1), 1)


# --- indexing --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_gather(dtype):
    rng = np.random.default_rng(12)
    for i, (xshape, ishape, axis) in enumerate(
        [((5,), (8,), 0), ((4, 6), (4, 9), 1), ((4, 6), (7, 5), 0), ((3, 4, 5), (2, 4, 3), 2),
         ((3, 4, 5), (3, 2, 5), 1), ((2, 3), (0, 3), 0), ((100, 400), (100, 400), 1)]
    ):  # fmt: skip
        x = values(rng, xshape, dtype)
        idx = rng.integers(0, xshape[axis], size=ishape).astype(np.int64)
        want = ref_result(
            lambda b, xv, iv, o, axis=axis: b.gather(xv, axis, iv, o), x, idx, out_shape=ishape,
            out_dtype=dtype,
        )  # fmt: skip
        out = empty_out(be, ishape, dtype, LAYOUTS[i % len(LAYOUTS)], rng)
        be.gather(
            view_of(be, x, LAYOUTS[(i + 1) % len(LAYOUTS)], rng),
            axis,
            view_of(be, idx, LAYOUTS[(i + 2) % len(LAYOUTS)], rng),
            out,
        )
        np.testing.assert_array_equal(be.to_numpy(out), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add(dtype):
    rng = np.random.default_rng(13)
    for i, (oshape, ishape, axis) in enumerate(
        [((5,), (20,), 0), ((4, 6), (4, 9), 1), ((4, 6), (7, 5), 0), ((3, 4, 5), (2, 4, 3), 2),
         ((3, 4, 5), (3, 2, 5), 1), ((200, 300), (400, 300), 0), ((300, 20), (300, 200), 1)]
    ):  # fmt: skip
        base = values(rng, oshape, dtype)
        src = values(rng, ishape, dtype)
        idx = rng.integers(0, oshape[axis], size=ishape).astype(np.int64)  # many repeats
        views = [view_of(ref, a) for a in (base, idx, src)]
        ref.scatter_add(views[0], axis, views[1], views[2])
        want = ref.to_numpy(views[0])
        out = view_of(be, base, LAYOUTS[i % len(LAYOUTS)], rng)
        be.scatter_add(
            out,
            axis,
            view_of(be, idx, LAYOUTS[(i + 1) % len(LAYOUTS)], rng),
            view_of(be, src, LAYOUTS[(i + 2) % len(LAYOUTS)], rng),
        )
        assert_close(be.to_numpy(out), want, dtype)


# --- random ----------------------------------------------------------------------------------
def test_random_deterministic_any_threads_and_layout():
    threads = be.get_num_threads()
    draws = []
    try:
        for t in (1, 2, 4):
            be.set_num_threads(t)
            out = empty_out(be, (300, 500), "float32")
            be.random_normal(out, 0.0, 1.0, seed=42)
            draws.append(be.to_numpy(out).copy())
    finally:
        be.set_num_threads(threads)
    for d in draws[1:]:
        np.testing.assert_array_equal(d, draws[0])
    strided = empty_out(be, (300, 500), "float32", "step-T-flip-offset")
    be.random_normal(strided, 0.0, 1.0, seed=42)
    np.testing.assert_array_equal(be.to_numpy(strided), draws[0])
    other = empty_out(be, (300, 500), "float32")
    be.random_normal(other, 0.0, 1.0, seed=43)
    assert not np.array_equal(be.to_numpy(other), draws[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_distributions(dtype):
    n = 200_000
    out = empty_out(be, (n,), dtype)
    be.random_uniform(out, -2.0, 3.0, seed=1)
    u = be.to_numpy(out).astype(np.float64)
    assert u.min() >= -2.0 and u.max() <= 3.0
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 25 / 12) < 0.03
    be.random_normal(out, 1.0, 2.0, seed=2)
    z = be.to_numpy(out).astype(np.float64)
    assert abs(z.mean() - 1.0) < 0.02 and abs(z.std() - 2.0) < 0.02
    assert np.all(np.isfinite(z))
    be.random_bernoulli(out, 0.3, seed=3)
    b = be.to_numpy(out)
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    for other in ("bool", "int64"):
        o = empty_out(be, (1000,), other)
        be.random_bernoulli(o, 0.5, seed=4)
        assert set(np.unique(be.to_numpy(o)).tolist()) <= {0, 1}
    o = empty_out(be, (0, 3), dtype)
    be.random_uniform(o, 0, 1, seed=0)
    o = empty_out(be, (), dtype)
    be.random_uniform(o, 0, 1, seed=2**64 - 1)
    assert 0 <= float(be.to_numpy(o)) < 1
    with pytest.raises(ValueError, match=r"seed lies in \[0, 2\*\*64\), got -5"):
        be.random_uniform(o, 0, 1, seed=-5)  # the core wraps seeds; the kernel takes uint64


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid"])
def test_float32_transcendentals_correctly_rounded(op):
    """The vectorised float32 exp/log/tanh/sigmoid round once from double precision: compare
    with the float64 result rounded to float32, over random bit patterns (all magnitudes,
    subnormals, inf, NaN) and edge values, contiguous and strided."""
    rng = np.random.default_rng(_seed(op))
    bits = rng.integers(0, 2**32, size=200_003, dtype=np.uint64).astype(np.uint32)
    edges = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38,
         -3.4028235e38, 88.72283, 88.7229, -87.33654, -103.97, -103.98, 1.0, -1.0, 0.0625,
         -0.0625, 9.01, 20.0, 1e-8],
        np.float32,
    )  # fmt: skip
    x = np.concatenate([bits.view(np.float32), edges, rng.uniform(-30, 30, 5001).astype("f4")])
    ref = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}
    with np.errstate(all="ignore"):
        want = ref[op](x.astype(np.float64)).astype(np.float32)
    for layout in ("compact", "step-T-flip-offset"):
        xv = view_of(be, x, layout)
        out = empty_out(be, x.shape, "float32")
        be.unary(op, xv, out)
        got = be.to_numpy(out)
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (layout, x[~same][:5], got[~same][:5], want[~same][:5])
        assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all()


def test_float32_erf_within_1e_7():
    """The vectorised float32 erf (a rational approximation, not libm) against math.erf in
    float64: a dense grid over [-6, 6], random bit patterns of every magnitude, and the
    specials (0 and -0 keep their sign, +-inf give +-1, NaN stays NaN), contiguous and
    strided (the vector tails too)."""
    rng = np.random.default_rng(_seed("erf"))
    bits = rng.integers(0, 2**32, size=100_003, dtype=np.uint64).astype(np.uint32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-30, 3.9999,
                         4.0, 4.0001, -4.0, 3.4028235e38, -3.4028235e38], np.float32)  # fmt: skip
    x = np.concatenate([np.linspace(-6, 6, 1_200_001, dtype=np.float32), specials,
                        bits.view(np.float32)])  # fmt: skip
    erf = np.vectorize(math.erf, otypes=[np.float64])
    finite = ~np.isnan(x)
    want = np.full(x.shape, np.nan)
    want[finite] = erf(x[finite].astype(np.float64))
    for layout in ("compact", "step-T-flip-offset"):
        out = empty_out(be, x.shape, "float32")
        be.unary("erf", view_of(be, x, layout), out)
        got = be.to_numpy(out)
        assert np.isnan(got[~finite]).all()
        error = np.abs(got[finite].astype(np.float64) - want[finite])
        assert error.max() < 1e-6, (layout, x[finite][np.argmax(error)], error.max())
        assert error.max() < 1.5e-7  # what it achieves (about one float32 ulp near 1)
        assert (np.abs(got[finite]) <= 1).all()
        np.testing.assert_array_equal(got[-(len(bits) + 14) :][:4], [0.0, -0.0, 1.0, -1.0])
        assert np.signbit(got[-(len(bits) + 13)])  # erf(-0) = -0
    tiny = np.array([1e-37, 1e-30, 1e-10, -1e-20], np.float32)  # relative accuracy near 0
    out = empty_out(be, tiny.shape, "float32")
    be.unary("erf", view_of(be, tiny), out)
    np.testing.assert_allclose(be.to_numpy(out), erf(tiny.astype(np.float64)), rtol=1e-6)


@pytest.mark.skipif(
    bool(os.environ.get("PLUGRAD_C_CPU_EXPECT_ASAN")),
    reason="the sanitized build frees every block, so that AddressSanitizer sees misuse",
)
def test_freed_blocks_are_reused_and_accounting_stays_exact():
    """Freed blocks from 64 KiB up go to a small cache; allocated_bytes counts live buffers
    only. Kernel scratch space (GEMM packing) comes from the same cache: no page faults."""
    import gc

    import plugrad

    backend = plugrad.device("c_cpu").backend
    gc.collect()
    backend.empty_cache()  # start empty: earlier tests' blocks must not be handed out here
    before = backend.allocated_bytes()
    n = (8 << 20) // 4  # 8 MiB of float32
    first = plugrad.full((n,), 1.0, device="c_cpu")
    address = int(plugrad_ffi_address(first))
    assert backend.allocated_bytes() == before + 4 * n
    del first
    gc.collect()
    assert backend.allocated_bytes() == before
    second = plugrad.full((n,), 2.0, device="c_cpu")  # same size: the cached block comes back
    assert int(plugrad_ffi_address(second)) == address
    assert float(second.sum().item()) == 2.0 * n
    del second
    mid = (256 << 10) // 4  # 256 KiB: a mid-size block is kept too
    third = plugrad.full((mid,), 3.0, device="c_cpu")
    address = int(plugrad_ffi_address(third))
    cached = backend.cached_bytes()
    del third
    gc.collect()
    assert backend.cached_bytes() == cached + 4 * mid
    fourth = plugrad.empty(mid - 1000, device="c_cpu")  # a little smaller: the same block
    assert int(plugrad_ffi_address(fourth)) == address
    assert backend.cached_bytes() == cached
    assert backend.allocated_bytes() == before + 4 * (mid - 1000)
    del fourth
    gc.collect()
    backend.empty_cache()
    assert backend.cached_bytes() == 0
    assert backend.allocated_bytes() == before
    small = plugrad.empty(1000, device="c_cpu")  # under 64 KiB: freed at once, never cached
    del small
    gc.collect()
    assert backend.cached_bytes() == 0


def plugrad_ffi_address(t):
    from plugrad_c_cpu.backend import ffi

    return ffi.cast("uintptr_t", t.array.buffer.ptr)


@pytest.mark.skipif(
    bool(os.environ.get("PLUGRAD_C_CPU_EXPECT_ASAN")),
    reason="the sanitized build frees every block, so that AddressSanitizer sees misuse",
)
def test_repeated_matmuls_reuse_memory_instead_of_faulting_in_fresh_pages():
    """GEMM's packing buffers and the results come from the block cache once warm: fresh
    mmap'ed blocks cost a page fault per 4 KiB touched (about 100 per call at 256 x 256)."""
    import resource

    import plugrad

    for n in (192, 256, 384):  # (without the cache, glibc's history decided which ones fault)
        a = plugrad.randn(n, n, device="c_cpu")
        for _ in range(3):
            a @ a
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            a @ a
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        assert faults < 100, f"{faults} minor page faults in 50 matmuls of {n} x {n}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_computes_single_threaded_with_the_block_cache():
    """A data-loader style worker: after fork the child runs on one thread (libgomp's pool
    does not survive fork) and allocates through the block cache (its lock is reset)."""
    import plugrad

    a = plugrad.randn(256, 256, device="c_cpu")
    expected = (a @ a).numpy()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 2
        try:
            backend = plugrad.device("c_cpu").backend
            same = np.allclose((a @ a).numpy(), expected, rtol=1e-5, atol=1e-4)
            code = 0 if same and backend.get_num_threads() == 1 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


C_ENTRY_POINTS_REFUSE_OVERFLOW = """
from plugrad_c_cpu._native import ffi, lib

big = [2**62, 4]  # 2**64 elements: the count wraps in int64
one = ffi.new("char[64]")
meta2 = ffi.new("int64_t[]", [2, *big, 0, 0, 0, 0])
meta3 = ffi.new("int64_t[]", [2, *big, 0, 0, 0, 0, 0, 0])
meta4 = ffi.new("int64_t[]", [2, *big, 0, 0, 0, 0, 0, 0, 0, 0])
codes = {
    "unary": lib.pg_unary(0, 0, one, one, meta2),
    "binary": lib.pg_binary(0, 0, one, one, one, meta3),
    "copy": lib.pg_copy(4, one, one, meta2),
    "cast": lib.pg_cast(0, 1, one, one, meta2),
    "reduce": lib.pg_reduce(1, 0, one, one, ffi.new("int64_t[]", [2, *big, 0, 0, 0, 0, 1, 1])),
    "arg_reduce": lib.pg_arg_reduce(0, 0, one, one, ffi.new("int64_t[]", [1, 2**62, 0, 0]), 4, 0),
    "gather": lib.pg_gather(0, one, one, one, meta4, 1, 0),
    "scatter_add": lib.pg_scatter_add(0, one, one, one, meta4, 1, 0, 1),
    "sort": lib.pg_sort(0, 0, one, one, one, meta3, 0),
    "scan": lib.pg_scan(0, 0, one, ffi.NULL, one, meta3, 0),
    "matmul": lib.pg_matmul(0, 2**40, 2**20, 2**20, 1, one, 0, 0, 0, one, 0, 0, 0, one),
    "negative": lib.pg_unary(0, 0, one, one, ffi.new("int64_t[]", [1, -3, 1, 1])),
    "conv2d": lib.pg_conv2d(0, one, one, one, ffi.new(
        "int64_t[]", [2**40, 2**20, 2**10, 1, 1, 1, 1, 2**10, 1, 1, 1, 0, 0, 1, 1, 1])),
    "relu_backward": lib.pg_relu_backward(0, one, one, one, meta3),
    "axpy": lib.pg_axpy(0, one, one, 1.0, meta2),
    "cross_entropy": lib.pg_cross_entropy(0, one, 2**62, 4, 0, 0, one, 0, 1.0, one, one),
    "softmax": lib.pg_softmax(0, 0, one, 2**62, 4, one),
    "softmax_backward": lib.pg_softmax_backward(1, 1, one, one, 2**62, 4, one),
    "softmax_negative": lib.pg_softmax(0, 1, one, -1, 4, one),
}
print(" ".join(f"{k}={v}" for k, v in codes.items()))
"""


def test_c_entry_points_refuse_counts_that_overflow_int64():
    """Each C entry point checks its own counts (whatever Python checked) before it divides
    or loops: a wrapped count returns -1 instead of SIGFPE or a loop over wild memory. In a
    subprocess, so a crash fails this test rather than the run."""
    result = subprocess.run([sys.executable, "-c", C_ENTRY_POINTS_REFUSE_OVERFLOW],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, (result.returncode, result.stderr)
    codes = dict(item.split("=") for item in result.stdout.split())
    assert codes and all(code == "-1" for code in codes.values()), codes


def test_python_side_refuses_overflowing_views_before_c():
    one = be.from_numpy(np.ones(1, dtype=np.float32))
    huge = Strided(one, (2**62, 4), (0, 0), 0, "float32")
    out = Strided(be.from_numpy(np.ones(1, dtype=np.float32)), (1,), (1,), 0, "float32")
    with pytest.raises(ValueError, match="integer multiplication overflow"):
        be.reduce("max", huge, (0, 1), Strided(out.buffer, (), (), 0, "float32"))
    with pytest.raises(ValueError, match="more than int64"):
        be.unary("neg", huge, huge)


FORKED_CHILD_SETS_THREADS = """
import os, sys, time, warnings
import numpy as np
import plugrad

plugrad.set_num_threads(2)
a = plugrad.randn(384, 384, device="c_cpu")
expected = (a @ a).numpy()  # {parent_work}
pid = os.fork()
if pid == 0:
    code = 3
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plugrad.set_num_threads(2)
        same = np.allclose((a @ a).numpy(), expected, rtol=1e-4, atol=1e-3)
        warned = any("forked" in str(w.message) for w in caught)
        threads = plugrad.get_num_threads()
        print(f"child same={{same}} warned={{warned}} threads={{threads}}", flush=True)
        code = 0 if same else 1
    finally:
        os._exit(code)
deadline = time.monotonic() + 90  # a hang in the child's first OpenMP region fails, not waits
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 4)
    time.sleep(0.05)
os.kill(pid, 9)
os.waitpid(pid, 0)
print("the forked child hung", flush=True)
sys.exit(5)
"""


def run_script(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PLUGRAD_NUM_THREADS", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_that_asks_for_threads_computes_on_one_with_a_warning():
    """libgomp's pool does not survive fork: a child of a process that ran OpenMP work and then
    asks for 2 threads used to hang in its first parallel region. It now computes on one
    thread and says why."""
    result = run_script(FORKED_CHILD_SETS_THREADS.format(parent_work="starts the OpenMP pool"))
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "child same=True warned=True threads=1" in result.stdout, result.stdout


FORKED_BEFORE_ANY_POOL = """
import os, sys, warnings
import numpy as np
import plugrad

plugrad.set_num_threads(2)
small = plugrad.ones(3, 3, device="c_cpu") @ plugrad.ones(3, 3, device="c_cpu")  # one thread
pid = os.fork()
if pid == 0:
    code = 3
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            plugrad.set_num_threads(2)
        a = plugrad.ones(384, 384, device="c_cpu")
        ok = np.allclose((a @ a).numpy(), 384.0) and plugrad.get_num_threads() == 2
        code = 0 if ok else 1
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_child_forked_before_any_openmp_work_keeps_its_threads():
    result = run_script(FORKED_BEFORE_ANY_POOL)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)


FORK_POOL = """
import multiprocessing, sys, warnings
import numpy as np
import plugrad


def work(seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plugrad.set_num_threads(2)
    plugrad.manual_seed(seed)
    a = plugrad.randn(256, 256, device="c_cpu")
    return float(np.abs((a @ a).numpy() - a.numpy() @ a.numpy()).max())


if __name__ == "__main__":
    plugrad.set_num_threads(2)
    a = plugrad.randn(384, 384, device="c_cpu")
    a @ a  # the parent's OpenMP pool is running
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        errors = pool.map_async(work, range(4)).get(timeout=120)
    except multiprocessing.TimeoutError:
        pool.terminate()
        print("a pool worker hung", flush=True)
        sys.exit(5)
    pool.close()
    pool.join()
    print("max error", max(errors), flush=True)
    sys.exit(0 if max(errors) < 1e-2 else 1)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_multiprocessing_fork_pool_computes(tmp_path):
    script = tmp_path / "pool.py"  # a file: the pool pickles `work` by module and name
    script.write_text(FORK_POOL)
    env = dict(os.environ)
    env.pop("PLUGRAD_NUM_THREADS", None)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, env=env)  # fmt: skip
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
