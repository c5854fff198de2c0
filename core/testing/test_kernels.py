"""Every protocol kernel of a backend against NumPy, on drawn shapes, dtypes and strided views.

Expected values are computed here with plain NumPy (never through numpy_ref). Run with
`pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import plugrad
from plugrad.backend.protocol import (
    ARG_REDUCE_OPS,
    BINARY_OPS,
    COMPARISON_OPS,
    REDUCE_OPS,
    UNARY_OPS,
    Strided,
    missing_members,
)
from plugrad.testing.helpers import (
    assert_close,
    compact_out,
    need,
    read,
    read_flat,
    row_major,
    upload,
)
from plugrad.testing.strategies import (
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    NUMERIC,
    NUMPY_DTYPES,
    kit_settings,
    random_values,
    shapes,
    views,
)

BITWISE = (*INT_DTYPES, "bool")


def cases(table: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(op, dtype) for op, dtypes in table.items() for dtype in dtypes]


def f64(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


# --- protocol surface and buffers --------------------------------------------------------


def test_protocol_members(backend):
    assert missing_members(backend) == []
    assert isinstance(backend.name, str) and backend.name
    assert set(backend.dtypes) <= set(plugrad.dtypes.ALL), backend.dtypes
    assert "float32" in backend.dtypes
    assert isinstance(backend.is_host, bool)


def test_synchronize(backend):
    assert backend.synchronize() is None


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_round_trip(backend, dtype, data):
    need(backend, dtype)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    size = data.draw(st.integers(0, 50), label="size")
    host = random_values(rng, size, dtype)
    buffer = backend.from_numpy(host.copy())
    np.testing.assert_array_equal(read_flat(backend, buffer, size, dtype), host)
    shared = host.copy()
    np.testing.assert_array_equal(
        read_flat(backend, backend.from_numpy(shared, copy=False), size, dtype), host
    )
    # copy=True owns its data: later writes to the source array do not show.
    source = host.copy()
    copied = backend.from_numpy(source, copy=True)
    source[...] = random_values(rng, size, dtype)
    np.testing.assert_array_equal(read_flat(backend, copied, size, dtype), host)
    # allocate gives a buffer of the right size and dtype that fill can write.
    fresh = backend.allocate(size, dtype)
    backend.fill(Strided(fresh, (size,), (1,), 0, dtype), host[0].item() if size else 0)
    assert read_flat(backend, fresh, size, dtype).shape == (size,)


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_to_numpy_strided(backend, dtype, data):
    need(backend, dtype)
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype)), label="x")
    np.testing.assert_array_equal(read(backend, case.upload(backend)), case.view)


def fill_values(dtype: str):
    """Values `fill` must store exactly: the dtype's own tiny value for floats, integers over
    the whole range of a narrow integer dtype."""
    if dtype == "bool":
        return st.booleans()
    if dtype in FLOAT_DTYPES:
        return st.sampled_from([0.0, -1.5, 2.25, plugrad.finfo(dtype).tiny])
    if dtype == "int64":
        return st.integers(-(2**40), 2**40)
    info = plugrad.iinfo(dtype)
    return st.integers(info.min, info.max)


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_fill(backend, dtype, data):
    need(backend, dtype)
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype, writable=True)), label="out")
    value = data.draw(fill_values(dtype), label="value")
    out = case.upload(backend)
    backend.fill(out, value)
    expected = case.flat.copy()
    case.view_on(expected)[...] = value
    np.testing.assert_array_equal(read_flat(backend, out.buffer, case.flat.size, dtype), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_compact(backend, dtype, data):
    need(backend, dtype)
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype)), label="x")
    out = compact_out(backend, case.shape, dtype)
    backend.compact(case.upload(backend), out)
    np.testing.assert_array_equal(read(backend, out), case.view)


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_assign(backend, dtype, data):
    need(backend, dtype)
    shape = data.draw(shapes(), label="shape")
    src = data.draw(views(shape, dtype), label="x")
    dst = data.draw(views(shape, dtype, writable=True), label="out")
    out = dst.upload(backend)
    backend.assign(src.upload(backend), out)
    expected = dst.flat.copy()
    dst.view_on(expected)[...] = src.view
    np.testing.assert_array_equal(read_flat(backend, out.buffer, dst.flat.size, dtype), expected)
    # Assigning a view to itself leaves it unchanged.
    backend.assign(out, out)
    np.testing.assert_array_equal(read_flat(backend, out.buffer, dst.flat.size, dtype), expected)


# --- elementwise --------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])

UNARY = {
    # op: (dtypes, value kind, oracle on float64 arrays, or integer / bool ones in their dtype)
    "neg": (NUMERIC, "any", np.negative),
    "abs": (NUMERIC, "any", np.abs),
    "exp": (FLOAT_DTYPES, "any", np.exp),
    "log": (FLOAT_DTYPES, "positive", np.log),
    "sqrt": (FLOAT_DTYPES, "positive", np.sqrt),
    "tanh": (FLOAT_DTYPES, "any", np.tanh),
    "sigmoid": (FLOAT_DTYPES, "any", lambda x: 1.0 / (1.0 + np.exp(-x))),
    "relu": (NUMERIC, "any", lambda x: np.where(x > 0, x, 0)),
    "sign": (NUMERIC, "ties", np.sign),
    "sin": (FLOAT_DTYPES, "any", np.sin),
    "cos": (FLOAT_DTYPES, "any", np.cos),
    "erf": (FLOAT_DTYPES, "any", lambda x: _erf(x) if x.size else x.copy()),
    "floor": (FLOAT_DTYPES, "any", np.floor),
    "ceil": (FLOAT_DTYPES, "any", np.ceil),
    "logical_not": (("bool",), "any", np.logical_not),
    "bitwise_not": (BITWISE, "any", np.invert),
}


def test_unary_table_covers_protocol():
    assert set(UNARY) == set(UNARY_OPS)


@pytest.mark.parametrize(("op", "dtype"), cases({k: v[0] for k, v in UNARY.items()}))
@kit_settings()
@given(data=st.data())
def test_unary(backend, op, dtype, data):
    need(backend, dtype)
    _, kind, oracle = UNARY[op]
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype, kind=kind)), label="x")
    out = compact_out(backend, case.shape, dtype)
    backend.unary(op, case.upload(backend), out)
    x = f64(case.view) if dtype in FLOAT_DTYPES else case.view
    assert_close(read(backend, out), oracle(x), dtype, msg=f"{op} {case.layout}")


def _shift(left: bool):
    """torch's integer shifts, in Python integers: the left shift wraps to the dtype's bits,
    and a count outside [0, bits) gives 0 (left) or the sign (right: -1 or 0; uint8 0)."""

    def oracle(a, b):
        bits, signed = 8 * a.dtype.itemsize, a.dtype.kind == "i"
        a, b = np.broadcast_arrays(a, b)
        out = np.empty(a.shape, a.dtype)
        for i in np.ndindex(a.shape):
            x, n = int(a[i]), int(b[i])
            if not 0 <= n < bits:
                out[i] = 0 if left or x >= 0 else -1
            elif left:
                r = (x << n) & (2**bits - 1)
                out[i] = r - 2**bits if signed and r >= 2 ** (bits - 1) else r
            else:
                out[i] = x >> n
        return out

    return oracle


def _pow(a, b):
    return np.power(a, b)


BINARY = {
    # op: (dtypes, kind of a, kind of b, oracle). Integer oracles run in the dtype itself, so
    # they wrap as torch's integers do; add, sub and mul draw integers over the whole range.
    "add": (DTYPES, "wrap", "wrap", np.add),  # on bool: logical or
    "sub": (NUMERIC, "wrap", "wrap", np.subtract),
    "mul": (DTYPES, "wrap", "wrap", np.multiply),  # on bool: logical and
    "div": (FLOAT_DTYPES, "any", "nonzero", np.divide),
    "pow": (NUMERIC, "positive", "exponent", _pow),
    "maximum": (NUMERIC, "ties", "ties", np.maximum),
    "minimum": (NUMERIC, "ties", "ties", np.minimum),
    "logical_and": (("bool",), "any", "any", np.logical_and),
    "logical_or": (("bool",), "any", "any", np.logical_or),
    "bitwise_and": (BITWISE, "wrap", "wrap", np.bitwise_and),
    "bitwise_or": (BITWISE, "wrap", "wrap", np.bitwise_or),
    "bitwise_xor": (BITWISE, "wrap", "wrap", np.bitwise_xor),
    "bitwise_left_shift": (INT_DTYPES, "wrap", "shift", _shift(left=True)),
    "bitwise_right_shift": (INT_DTYPES, "wrap", "shift", _shift(left=False)),
    "eq": (DTYPES, "ties", "ties", np.equal),
    "ne": (DTYPES, "ties", "ties", np.not_equal),
    "lt": (DTYPES, "ties", "ties", np.less),
    "le": (DTYPES, "ties", "ties", np.less_equal),
    "gt": (DTYPES, "ties", "ties", np.greater),
    "ge": (DTYPES, "ties", "ties", np.greater_equal),
}


def _binary_kinds(op: str, dtype: str) -> tuple[str, str]:
    _, kind_a, kind_b, _ = BINARY[op]
    if op == "pow" and dtype in INT_DTYPES:
        return "base", "exponent"  # integer base of either sign, exponent 0..3: no overflow
    return kind_a, kind_b


def _binary_expected(op: str, a: np.ndarray, b: np.ndarray, dtype: str) -> np.ndarray:
    oracle = BINARY[op][3]
    if dtype in FLOAT_DTYPES:
        a, b = f64(a), f64(b)
    return oracle(a, b)


def test_binary_table_covers_protocol():
    assert set(BINARY) == set(BINARY_OPS) | set(COMPARISON_OPS)


@pytest.mark.parametrize(("op", "dtype"), cases({k: v[0] for k, v in BINARY.items()}))
@kit_settings(20)
@given(data=st.data())
def test_binary(backend, op, dtype, data):
    need(backend, dtype)
    kind_a, kind_b = _binary_kinds(op, dtype)
    shape = data.draw(shapes(), label="shape")
    a = data.draw(views(shape, dtype, kind=kind_a), label="a")
    b = data.draw(views(shape, dtype, kind=kind_b), label="b")
    out_dtype = "bool" if op in COMPARISON_OPS else dtype
    out = compact_out(backend, shape, out_dtype)
    backend.binary(op, a.upload(backend), b.upload(backend), out)
    expected = _binary_expected(op, a.view, b.view, dtype)
    assert_close(read(backend, out), expected, out_dtype, msg=f"{op} a: {a.layout} b: {b.layout}")


def _scalar_value(data, dtype: str, kind: str):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="value seed"))
    value = random_values(rng, 1, dtype, kind)[0]
    return value.item()  # a Python float, int or bool


def _scalar_case(backend, op, dtype, data):
    need(backend, dtype)
    reflected = data.draw(st.booleans(), label="reflected")
    kind_a, kind_b = _binary_kinds(op, dtype)
    kind_x, kind_v = (kind_b, kind_a) if reflected else (kind_a, kind_b)
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype, kind=kind_x)), label="a")
    value = _scalar_value(data, dtype, kind_v)
    out_dtype = "bool" if op in COMPARISON_OPS else dtype
    out = compact_out(backend, case.shape, out_dtype)
    backend.scalar(op, case.upload(backend), value, out, reflected)
    v = np.full(case.shape, value, dtype=NUMPY_DTYPES[dtype])
    left, right = (v, case.view) if reflected else (case.view, v)
    expected = _binary_expected(op, left, right, dtype)
    msg = f"{op} value={value!r} reflected={reflected} {case.layout}"
    assert_close(read(backend, out), expected, out_dtype, msg=msg)


@pytest.mark.parametrize(("op", "dtype"), cases({k: BINARY[k][0] for k in BINARY_OPS}))
@kit_settings(20)
@given(data=st.data())
def test_scalar(backend, op, dtype, data):
    _scalar_case(backend, op, dtype, data)


@pytest.mark.parametrize(("op", "dtype"), cases({k: BINARY[k][0] for k in COMPARISON_OPS}))
@kit_settings(10)
@given(data=st.data())
def test_scalar_comparison(backend, op, dtype, data):
    """`scalar` with a comparison op writes bool, like `binary` does."""
    _scalar_case(backend, op, dtype, data)


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_where(backend, dtype, data):
    need(backend, dtype)
    shape = data.draw(shapes(), label="shape")
    cond = data.draw(views(shape, "bool"), label="cond")
    a = data.draw(views(shape, dtype), label="a")
    b = data.draw(views(shape, dtype), label="b")
    out = compact_out(backend, shape, dtype)
    backend.where(cond.upload(backend), a.upload(backend), b.upload(backend), out)
    assert_close(read(backend, out), np.where(cond.view, a.view, b.view), dtype)


@pytest.mark.parametrize(("src", "dst"), [(s, d) for s in DTYPES for d in DTYPES])
@kit_settings(15)
@given(data=st.data())
def test_cast(backend, src, dst, data):
    need(backend, src)
    need(backend, dst)
    kind = data.draw(st.sampled_from(["any", "ties"]), label="kind")
    if src in FLOAT_DTYPES and dst == "uint8":
        kind = "positive"  # a negative float's uint8 is undefined (C, and so torch)
    case = data.draw(shapes().flatmap(lambda s: views(s, src, kind=kind)), label="x")
    out = compact_out(backend, case.shape, dst)
    backend.cast(case.upload(backend), out)
    x = case.view
    if src in FLOAT_DTYPES and dst in INT_DTYPES:
        expected = np.trunc(f64(x)).astype(np.int64)  # toward zero
    elif dst == "bool":
        expected = x != 0
    else:
        expected = x.astype(NUMPY_DTYPES[dst])
    assert_close(read(backend, out), expected, dst, msg=case.layout)


# --- reductions ---------------------------------------------------------------------------

REDUCE = {
    # op: (dtypes, value kind, oracle)
    "sum": (NUMERIC, "any", np.sum),
    "prod": (NUMERIC, "prod", np.prod),
    "max": (NUMERIC, "ties", np.max),
    "min": (NUMERIC, "ties", np.min),
}


def test_reduce_table_covers_protocol():
    assert set(REDUCE) == set(REDUCE_OPS)


@pytest.mark.parametrize(("op", "dtype"), cases({k: v[0] for k, v in REDUCE.items()}))
@kit_settings()
@given(data=st.data())
def test_reduce(backend, op, dtype, data):
    need(backend, dtype)
    _, kind, oracle = REDUCE[op]
    shape = data.draw(shapes(max_side=3 if op == "prod" else 5), label="shape")
    chosen = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    axes = tuple(i for i, c in enumerate(chosen) if c)
    if op in ("max", "min"):  # an empty extent never reaches a backend for max/min
        axes = tuple(i for i in axes if shape[i] > 0)
    case = data.draw(views(shape, dtype, kind=kind), label="x")
    out_shape = tuple(s for i, s in enumerate(shape) if i not in axes)
    out = compact_out(backend, out_shape, dtype)
    backend.reduce(op, case.upload(backend), axes, out)
    x = f64(case.view) if dtype in FLOAT_DTYPES else case.view
    expected = oracle(x, axis=axes)
    k = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    scale = 3.0 if op == "sum" else 1.5
    assert_close(read(backend, out), expected, dtype, k=k, scale=scale,
                 msg=f"{op} axes={axes} {case.layout}")  # fmt: skip


@pytest.mark.parametrize(("op", "dtype"), [(op, d) for op in ARG_REDUCE_OPS for d in NUMERIC])
@kit_settings()
@given(data=st.data())
def test_arg_reduce(backend, op, dtype, data):
    need(backend, dtype)
    shape = data.draw(shapes(min_dims=1), label="shape")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    shape = tuple(max(s, 1) if i == axis else s for i, s in enumerate(shape))
    case = data.draw(views(shape, dtype, kind="ties"), label="x")
    out_shape = shape[:axis] + shape[axis + 1 :]
    out = compact_out(backend, out_shape, "int64")
    backend.arg_reduce(op, case.upload(backend), axis, out)
    x = f64(case.view) if dtype in FLOAT_DTYPES else case.view
    expected = (np.argmax if op == "argmax" else np.argmin)(x, axis=axis)  # first index
    assert_close(read(backend, out), expected, "int64", msg=f"{op} axis={axis} {case.layout}")


# --- linear algebra -----------------------------------------------------------------------


def _side():
    return st.one_of(st.integers(0, 5), st.integers(6, 40))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings(40)
@given(data=st.data())
def test_matmul(backend, dtype, data):
    need(backend, dtype)
    b_, m, k, n = (data.draw(s, label=lbl) for s, lbl in zip(
        (st.integers(0, 4), _side(), _side(), _side()), "BMKN"))  # fmt: skip
    a = data.draw(views((b_, m, k), dtype), label="a")
    b = data.draw(views((b_, k, n), dtype), label="b")
    out = compact_out(backend, (b_, m, n), dtype)
    backend.matmul(a.upload(backend), b.upload(backend), out)
    expected = np.einsum("bmk,bkn->bmn", f64(a.view), f64(b.view))
    assert_close(read(backend, out), expected, dtype, k=k, scale=9.0,
                 msg=f"a: {a.layout} b: {b.layout}")  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings(6)
@given(data=st.data())
def test_matmul_large(backend, dtype, data):
    """Sizes past typical cache blocks and thread thresholds (e.g. K > 256)."""
    need(backend, dtype)
    side = st.sampled_from([1, 63, 130, 257, 300])
    b_, m, k, n = (data.draw(s, label=lbl) for s, lbl in zip(
        (st.integers(1, 2), side, side, side), "BMKN"))  # fmt: skip
    a = data.draw(views((b_, m, k), dtype), label="a")
    b = data.draw(views((b_, k, n), dtype), label="b")
    out = compact_out(backend, (b_, m, n), dtype)
    backend.matmul(a.upload(backend), b.upload(backend), out)
    expected = np.matmul(f64(a.view), f64(b.view))
    assert_close(read(backend, out), expected, dtype, k=k, scale=9.0,
                 msg=f"a: {a.layout} b: {b.layout}")  # fmt: skip


LARGE_SHAPES = [(300, 257), (64, 65, 33), (2, 3, 129, 130)]


@pytest.mark.parametrize("kernel", ["compact", "unary", "binary", "reduce", "arg_reduce", "cast"])
@kit_settings(5)
@given(data=st.data())
def test_large_views(backend, kernel, data):
    """Strided views of ~100k elements, past typical parallel and vector thresholds."""
    shape = data.draw(st.sampled_from(LARGE_SHAPES), label="shape")
    x = data.draw(views(shape, "float32"), label="x")
    xv = f64(x.view)
    if kernel == "compact":
        out = compact_out(backend, shape, "float32")
        backend.compact(x.upload(backend), out)
        expected, dtype, k = xv, "float32", 1
    elif kernel == "unary":
        out = compact_out(backend, shape, "float32")
        backend.unary("tanh", x.upload(backend), out)
        expected, dtype, k = np.tanh(xv), "float32", 1
    elif kernel == "binary":
        y = data.draw(views(shape, "float32"), label="y")
        out = compact_out(backend, shape, "float32")
        backend.binary("mul", x.upload(backend), y.upload(backend), out)
        expected, dtype, k = xv * f64(y.view), "float32", 1
    elif kernel == "reduce":
        axes = data.draw(st.sampled_from([(0,), (len(shape) - 1,), (0, len(shape) - 1)]))
        out_shape = tuple(s for i, s in enumerate(shape) if i not in axes)
        out = compact_out(backend, out_shape, "float32")
        backend.reduce("sum", x.upload(backend), axes, out)
        k = int(np.prod([shape[i] for i in axes]))
        expected, dtype = xv.sum(axis=axes), "float32"
    elif kernel == "arg_reduce":
        axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
        out = compact_out(backend, shape[:axis] + shape[axis + 1 :], "int64")
        backend.arg_reduce("argmax", x.upload(backend), axis, out)
        expected, dtype, k = np.argmax(x.view, axis=axis), "int64", 1
    else:
        out = compact_out(backend, shape, "int64")
        backend.cast(x.upload(backend), out)
        expected, dtype, k = np.trunc(xv).astype(np.int64), "int64", 1
    assert_close(read(backend, out), expected, dtype, k=k, scale=3.0, msg=x.layout)


# --- convolution (direct NumPy oracle, independent of any backend) ------------------------


def conv2d_reference(x, w, stride, padding, dilation, groups):
    """Cross-correlation by a loop over kernel taps: out[n,o,p,q] = sum_{c,i,j}
    xpad[n, g*cg+c, p*sh+i*dh, q*sw+j*dw] * w[o,c,i,j]."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    out = np.zeros((n, o, oh, ow))
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                tap = xp[:, g * cg : (g + 1) * cg,
                         i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                         j * dw : j * dw + sw * (ow - 1) + 1 : sw]  # fmt: skip
                out[:, g * og : (g + 1) * og] += np.einsum(
                    "ncpq,oc->nopq", tap, w[g * og : (g + 1) * og, :, i, j]
                )
    return out


def conv2d_backward_input_reference(grad, w, x_shape, stride, padding, dilation, groups):
    """The adjoint of `conv2d_reference` in x: scatter each tap's contribution back."""
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    _, _, oh, ow = grad.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    og = o // groups
    gp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                gp[:, g * cg : (g + 1) * cg,
                   i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                   j * dw : j * dw + sw * (ow - 1) + 1 : sw] += np.einsum(
                    "nopq,oc->ncpq", grad[:, g * og : (g + 1) * og],
                    w[g * og : (g + 1) * og, :, i, j],
                )  # fmt: skip
    return gp[:, :, ph : ph + h, pw : pw + wd]


def conv2d_backward_weight_reference(x, grad, w_shape, stride, padding, dilation, groups):
    """The gradient of `conv2d_reference` in w: correlate each tap with grad."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w_shape
    _, _, oh, ow = grad.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    og = o // groups
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    gw = np.zeros(w_shape)
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                tap = xp[:, g * cg : (g + 1) * cg,
                         i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                         j * dw : j * dw + sw * (ow - 1) + 1 : sw]  # fmt: skip
                gw[g * og : (g + 1) * og, :, i, j] = np.einsum(
                    "ncpq,nopq->oc", tap, grad[:, g * og : (g + 1) * og]
                )
    return gw


@st.composite
def conv_configs(draw):
    """(x shape, w shape, out shape, stride, padding, dilation, groups), all valid."""
    groups = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    n = draw(st.integers(0, 2))
    h = max(0, dilation[0] * (kh - 1) + 1 - 2 * padding[0]) + draw(st.integers(0, 6))
    w = max(0, dilation[1] * (kw - 1) + 1 - 2 * padding[1]) + draw(st.integers(0, 6))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    x_shape = (n, groups * cg, h, w)
    w_shape = (groups * og, cg, kh, kw)
    return x_shape, w_shape, (n, groups * og, oh, ow), stride, padding, dilation, groups


def _conv_inputs(data, dtype, *shapes_):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return [random_values(rng, int(np.prod(s)), dtype).reshape(s) for s in shapes_]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings(30)
@given(data=st.data(), config=conv_configs())
def test_conv2d(backend, dtype, data, config):
    need(backend, dtype)
    x_shape, w_shape, o_shape, stride, padding, dilation, groups = config
    x, w = _conv_inputs(data, dtype, x_shape, w_shape)
    out = compact_out(backend, o_shape, dtype)
    backend.conv2d(upload(backend, x), upload(backend, w), out, stride, padding, dilation, groups)
    expected = conv2d_reference(f64(x), f64(w), stride, padding, dilation, groups)
    k = w_shape[1] * w_shape[2] * w_shape[3]
    assert_close(read(backend, out), expected, dtype, k=k, scale=9.0, msg=str(config))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings(30)
@given(data=st.data(), config=conv_configs())
def test_conv2d_backward_input(backend, dtype, data, config):
    need(backend, dtype)
    x_shape, w_shape, o_shape, stride, padding, dilation, groups = config
    grad, w = _conv_inputs(data, dtype, o_shape, w_shape)
    grad_x = compact_out(backend, x_shape, dtype)
    backend.conv2d_backward_input(
        upload(backend, grad), upload(backend, w), grad_x, stride, padding, dilation, groups
    )
    expected = conv2d_backward_input_reference(
        f64(grad), f64(w), x_shape, stride, padding, dilation, groups
    )
    k = w_shape[0] * w_shape[2] * w_shape[3]
    assert_close(read(backend, grad_x), expected, dtype, k=k, scale=9.0, msg=str(config))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings(30)
@given(data=st.data(), config=conv_configs())
def test_conv2d_backward_weight(backend, dtype, data, config):
    need(backend, dtype)
    x_shape, w_shape, o_shape, stride, padding, dilation, groups = config
    x, grad = _conv_inputs(data, dtype, x_shape, o_shape)
    grad_w = compact_out(backend, w_shape, dtype)
    backend.conv2d_backward_weight(
        upload(backend, x), upload(backend, grad), grad_w, stride, padding, dilation, groups
    )
    expected = conv2d_backward_weight_reference(
        f64(x), f64(grad), w_shape, stride, padding, dilation, groups
    )
    k = o_shape[0] * o_shape[2] * o_shape[3]
    assert_close(read(backend, grad_w), expected, dtype, k=k, scale=9.0, msg=str(config))


def test_conv2d_reference_is_adjoint():
    """The oracle's own sanity: <conv(x, w), g> == <x, dX(g)> == <w, dW(g)>."""
    rng = np.random.default_rng(0)
    stride, padding, dilation, groups = (2, 1), (1, 2), (2, 1), 2
    x, w = rng.normal(size=(2, 4, 7, 6)), rng.normal(size=(6, 2, 3, 2))
    y = conv2d_reference(x, w, stride, padding, dilation, groups)
    g = rng.normal(size=y.shape)
    dx = conv2d_backward_input_reference(g, w, x.shape, stride, padding, dilation, groups)
    dw = conv2d_backward_weight_reference(x, g, w.shape, stride, padding, dilation, groups)
    assert np.isclose(np.vdot(y, g), np.vdot(x, dx))
    assert np.isclose(np.vdot(y, g), np.vdot(w, dw))


# --- indexing -----------------------------------------------------------------------------


@st.composite
def index_shapes(draw, big_shape: tuple[int, ...], axis: int):
    """An index shape for gather/scatter_add: <= big_shape off `axis`, any length along it
    (0 when big_shape[axis] is 0, since no index value would be in range)."""
    sides = [draw(st.integers(0, s)) for s in big_shape]
    sides[axis] = draw(st.integers(0, 6)) if big_shape[axis] > 0 else 0
    return tuple(sides)


def _index_view(data, shape, bound, label):
    case = data.draw(views(shape, "int64"), label=label)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label=f"{label} seed"))
    case.flat[...] = rng.integers(0, max(bound, 1), size=case.flat.size)
    return case


@pytest.mark.parametrize("dtype", DTYPES)
@kit_settings()
@given(data=st.data())
def test_gather(backend, dtype, data):
    need(backend, dtype)
    x_shape = data.draw(shapes(min_dims=1), label="x shape")
    axis = data.draw(st.integers(0, len(x_shape) - 1), label="axis")
    out_shape = data.draw(index_shapes(x_shape, axis), label="out shape")
    x = data.draw(views(x_shape, dtype), label="x")
    index = _index_view(data, out_shape, x_shape[axis], "index")
    out = compact_out(backend, out_shape, dtype)
    backend.gather(x.upload(backend), axis, index.upload(backend), out)
    expected = np.empty(out_shape, dtype=NUMPY_DTYPES[dtype])
    for pos in np.ndindex(*out_shape):
        source = list(pos)
        source[axis] = index.view[pos]
        expected[pos] = x.view[tuple(source)]
    assert_close(read(backend, out), expected, dtype,
                 msg=f"axis={axis} x: {x.layout} index: {index.layout}")  # fmt: skip


@pytest.mark.parametrize("dtype", NUMERIC)
@kit_settings()
@given(data=st.data())
def test_scatter_add(backend, dtype, data):
    need(backend, dtype)
    out_shape = data.draw(shapes(min_dims=1), label="out shape")
    axis = data.draw(st.integers(0, len(out_shape) - 1), label="axis")
    src_shape = data.draw(index_shapes(out_shape, axis), label="src shape")
    dst = data.draw(views(out_shape, dtype, writable=True), label="out")
    src = data.draw(views(src_shape, dtype), label="src")
    bound = data.draw(st.integers(1, max(out_shape[axis], 1)), label="index bound")  # repeats
    index = _index_view(data, src_shape, bound, "index")
    out = dst.upload(backend)
    backend.scatter_add(out, axis, index.upload(backend), src.upload(backend))
    expected_flat = dst.flat.astype(np.float64 if dtype in FLOAT_DTYPES else np.int64)
    expected = dst.view_on(expected_flat)
    for pos in np.ndindex(*src_shape):
        target = list(pos)
        target[axis] = index.view[pos]
        expected[tuple(target)] += src.view[pos]
    actual = read_flat(backend, out.buffer, dst.flat.size, dtype)
    assert_close(actual, expected_flat, dtype, k=src_shape[axis] + 1, scale=3.0,
                 msg=f"axis={axis} out: {dst.layout} index: {index.layout}")  # fmt: skip


# --- accounting ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["allocate", "from_numpy"])
def test_allocated_bytes(backend, how):
    size = 1 << 18  # float32: 1 MiB
    gc.collect()
    backend.synchronize()
    before = backend.allocated_bytes()
    assert isinstance(before, int) and before >= 0
    if how == "allocate":
        buffer = backend.allocate(size, "float32")
    else:
        buffer = backend.from_numpy(np.zeros(size, dtype=np.float32), copy=True)
    held = backend.allocated_bytes()
    assert held >= before + 4 * size, (before, held)
    del buffer
    gc.collect()
    backend.synchronize()
    released = backend.allocated_bytes()
    assert released <= held - 4 * size, (before, held, released)


def test_row_major_helper():
    assert row_major((2, 3, 4)) == (12, 4, 1)
    assert row_major(()) == ()
