"""The optional fused kernels (`protocol.FusedKernels`) of a backend against NumPy.

A backend may implement any of them (test_fused_lstm.py checks the LSTM gate kernels). A test
of a kernel the backend lacks is skipped: the core then composes the result from the required
kernels (`plugrad.ops.fused`), which `test_kernels.py` checks. Expected values come from plain
NumPy formulas in float64, never through numpy_ref. Run with
`pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugrad.backend.protocol import OPTIONAL_KERNELS, Strided
from plugrad.testing.helpers import EPS, SENTINEL, assert_close, compact_out, need, read, upload
from plugrad.testing.strategies import (
    FLOAT_DTYPES,
    HALF_DTYPES,
    NUMPY_DTYPES,
    kit_settings,
    shapes,
    views,
)

FUSED_CHECKED = (
    "relu_backward", "axpy", "cross_entropy", "cross_entropy_backward", "softmax",
    "softmax_backward", "log_softmax", "log_softmax_backward",
)  # fmt: skip
SOFTMAX_KERNELS = ("softmax", "log_softmax")
SOFTMAX_BACKWARDS = ("softmax_backward", "log_softmax_backward")


def optional_kernel(backend, name: str):
    """The backend's optional kernel `name`, or skip the test when it has none."""
    kernel = getattr(backend, name, None)
    if kernel is None:
        pytest.skip(
            f"{backend.name} has no optional kernel {name} (the core composes it from the "
            "required kernels, see plugrad.ops.fused)"
        )
    return kernel


def seed_rng(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def f64(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """log_softmax by rows in float64 (NumPy oracle)."""
    x = f64(logits)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy_loss(log_probs: np.ndarray, target: np.ndarray, scale: float) -> float:
    rows = np.arange(log_probs.shape[0])
    return float(-scale * f64(log_probs)[rows, np.asarray(target)].sum())


def one_hot(target: np.ndarray, classes: int) -> np.ndarray:
    hot = np.zeros((len(target), classes))
    hot[np.arange(len(target)), np.asarray(target)] = 1.0
    return hot


def targets_case(data, n: int, classes: int, label: str = "target"):
    """An int64 (n,) view (any strides, broadcast included) holding classes in [0, classes)."""
    case = data.draw(views((n,), "int64"), label=label)
    rng = seed_rng(data)
    case.flat[...] = rng.integers(0, classes, size=case.flat.size)  # `view` sees the new values
    return case


def scalar_at(backend, value: float, dtype: str, offset: int = 2) -> Strided:
    """A 0-d view of `value` at `offset` inside a larger buffer of junk (`upload` would make a
    0-d array 1-d)."""
    host = np.full(offset + 3, -123, dtype=NUMPY_DTYPES[dtype])
    host[offset] = value
    return Strided(backend.from_numpy(host), (), (), offset, dtype)


def test_fused_table_covers_protocol():
    from plugrad.testing.test_fused_lstm import LSTM_KERNELS

    assert set(FUSED_CHECKED) | set(LSTM_KERNELS) == set(OPTIONAL_KERNELS)


def test_fused_kernels_are_callable_or_absent(backend):
    for name in OPTIONAL_KERNELS:
        kernel = getattr(backend, name, None)
        assert kernel is None or callable(kernel), f"{backend.name}.{name} is not callable"


# --- relu_backward ------------------------------------------------------------------------

RELU_Y = np.array([-2.5, -1.0, -0.0, 0.0, 0.0, 0.5, 1.0, 3.0, np.nan])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_relu_backward(backend, dtype, data):
    need(backend, dtype)
    relu_backward = optional_kernel(backend, "relu_backward")
    shape = data.draw(shapes(), label="shape")
    grad = data.draw(views(shape, dtype), label="grad")
    y = data.draw(views(shape, dtype), label="y")
    y.flat[...] = seed_rng(data).choice(RELU_Y, size=y.flat.size)  # negatives, zeros, NaN
    out = compact_out(backend, shape, dtype)
    relu_backward(grad.upload(backend), y.upload(backend), out)
    expected = np.where(y.view <= 0, 0, grad.view).astype(NUMPY_DTYPES[dtype])  # NaN: grad
    np.testing.assert_array_equal(
        read(backend, out), expected, err_msg=f"grad {grad.layout} y {y.layout}"
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fused_relu_backward_blocks_nonfinite_gradients(backend, dtype):
    """Where y <= 0 the result is exactly 0 whatever grad holds (not grad * 0); NaN in y
    passes the gradient, as in torch."""
    need(backend, dtype)
    relu_backward = optional_kernel(backend, "relu_backward")
    y = np.array([-1.0, 0.0, -0.0, np.nan, 2.0, np.nan])
    grad = np.array([np.inf, np.nan, -np.inf, 5.0, -3.0, np.nan])
    out = compact_out(backend, y.shape, dtype)
    relu_backward(upload(backend, grad, dtype), upload(backend, y, dtype), out)
    np.testing.assert_array_equal(read(backend, out), [0.0, 0.0, 0.0, 5.0, -3.0, np.nan])


# --- axpy -----------------------------------------------------------------------------------

ALPHAS = (1.0, -1.0, 0.5, -2.75, 0.0, 1e-3, 3.0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_axpy(backend, dtype, data):
    need(backend, dtype)
    axpy = optional_kernel(backend, "axpy")
    shape = data.draw(shapes(), label="shape")
    x = data.draw(views(shape, dtype), label="x")
    start = data.draw(views(shape, dtype, compact=True), label="out")
    alpha = data.draw(st.sampled_from(ALPHAS), label="alpha")
    out = start.upload(backend)
    axpy(alpha, x.upload(backend), out)
    expected = f64(start.view) + alpha * f64(x.view)
    assert_close(read(backend, out), expected, dtype, k=2, scale=3 * max(abs(alpha), 1.0),
                 msg=f"alpha={alpha} x {x.layout}")  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_axpy_same_view(backend, dtype, data):
    """x may be the very view out is: out = (1 + alpha) * out."""
    need(backend, dtype)
    axpy = optional_kernel(backend, "axpy")
    case = data.draw(shapes().flatmap(lambda s: views(s, dtype, compact=True)), label="out")
    alpha = data.draw(st.sampled_from(ALPHAS), label="alpha")
    out = case.upload(backend)
    axpy(alpha, out, out)
    expected = f64(case.view) + alpha * f64(case.view)
    assert_close(read(backend, out), expected, dtype, k=2, scale=3 * max(abs(alpha), 1.0),
                 msg=f"alpha={alpha}")  # fmt: skip


# --- cross_entropy --------------------------------------------------------------------------

classes_strategy = st.one_of(st.integers(1, 8), st.sampled_from([255, 256, 257, 1025, 2049]))
# Many short rows (a kernel may block rows together or split them over threads) and long rows
# (a kernel may chunk one row).
BIG_CASES = [(700, 3), (1500, 10), (333, 7), (300, 2048), (3, 2049), (2, 5000), (40, 1000)]


def check_log_probs(backend, log_probs: Strided, logits: np.ndarray, dtype: str, msg: str):
    """log_probs read back against the NumPy oracle on the logits the backend holds (`logits`
    rounded to the dtype), with a tolerance for the row's sum."""
    expected = log_softmax_rows(np.asarray(logits).astype(NUMPY_DTYPES[dtype]))
    # Each entry is (x - max) - log(sum of C exps): relative error for the first term, about
    # C * eps absolute for the second.
    assert_close(read(backend, log_probs), expected, dtype, k=logits.shape[1], msg=msg)
    return expected


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_cross_entropy(backend, dtype, data):
    need(backend, dtype)
    cross_entropy = optional_kernel(backend, "cross_entropy")
    need(backend, "int64")
    n = data.draw(st.integers(1, 6), label="N")
    c = data.draw(classes_strategy, label="C")
    logits = data.draw(views((n, c), dtype), label="logits")
    magnitude = data.draw(st.sampled_from([1.0, 30.0, 1000.0]), label="magnitude")
    logits.flat *= NUMPY_DTYPES[dtype](magnitude)
    target = targets_case(data, n, c)
    scale = data.draw(st.sampled_from([1.0, 1.0 / n, 0.25]), label="scale")
    log_probs = compact_out(backend, (n, c), dtype)
    loss = compact_out(backend, (), dtype)
    cross_entropy(logits.upload(backend), target.upload(backend), scale, log_probs, loss)
    msg = f"logits {logits.layout} target {target.view} scale {scale}"
    lp = check_log_probs(backend, log_probs, logits.view, dtype, msg)
    assert_close(read(backend, loss), cross_entropy_loss(lp, target.view, scale), dtype,
                 k=n * c, scale=scale, msg=msg)  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fused_cross_entropy_large_transposed_logits(backend, dtype):
    """Logits of +-1000 do not overflow exp; a transposed (column-major) logits view."""
    need(backend, dtype)
    cross_entropy = optional_kernel(backend, "cross_entropy")
    need(backend, "int64")
    logits = np.array(
        [[1000.0, 0.0, -1000.0, 999.0], [1000.0, 1000.0, 1000.0, 1000.0],
         [-1000.0, -1001.0, -1000.0, -1003.0], [5.0, 1000.0, -2.0, 0.5],
         [-1000.0, 1000.0, 0.0, 1000.0]],
    )  # fmt: skip
    n, c = logits.shape
    target = np.array([0, 3, 1, 2, 1])
    column_major = upload(backend, np.ascontiguousarray(logits.T), dtype)
    transposed = Strided(column_major.buffer, (n, c), (1, n), 0, dtype)
    for scale in (1.0, 1.0 / n):
        log_probs = compact_out(backend, (n, c), dtype)
        loss = compact_out(backend, (), dtype)
        cross_entropy(transposed, upload(backend, target, "int64"), scale, log_probs, loss)
        got = read(backend, log_probs)
        assert np.isfinite(got).all(), got
        lp = check_log_probs(backend, log_probs, logits, dtype, f"scale {scale}")
        got_loss = read(backend, loss)
        assert np.isfinite(got_loss), got_loss
        assert_close(got_loss, cross_entropy_loss(lp, target, scale), dtype, k=n * c,
                     scale=scale)  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "c"), BIG_CASES, ids=str)
def test_fused_cross_entropy_many_or_long_rows(backend, dtype, n, c):
    need(backend, dtype)
    cross_entropy = optional_kernel(backend, "cross_entropy")
    need(backend, "int64")
    rng = np.random.default_rng(n + c)
    logits = rng.uniform(-8, 8, (n, c))
    target = rng.integers(0, c, n)
    target[-1] = c - 1
    column_major = upload(backend, np.ascontiguousarray(logits.T), dtype)
    for strided in (upload(backend, logits, dtype),
                    Strided(column_major.buffer, (n, c), (1, n), 0, dtype)):  # fmt: skip
        log_probs = compact_out(backend, (n, c), dtype)
        loss = compact_out(backend, (), dtype)
        cross_entropy(strided, upload(backend, target, "int64"), 1.0 / n, log_probs, loss)
        msg = f"strides {strided.strides}"
        lp = check_log_probs(backend, log_probs, logits.astype(NUMPY_DTYPES[dtype]), dtype, msg)
        assert_close(read(backend, loss), cross_entropy_loss(lp, target, 1.0 / n), dtype,
                     k=n * c, scale=1.0 / n, msg=msg)  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "c"), [(1, 1), (1, 5), (4, 1)], ids=str)
def test_fused_cross_entropy_single_row_or_class(backend, dtype, n, c):
    need(backend, dtype)
    cross_entropy = optional_kernel(backend, "cross_entropy")
    need(backend, "int64")
    logits = np.random.default_rng(n * 10 + c).uniform(-3, 3, (n, c))
    target = np.arange(n) % c
    for scale in (1.0, 1.0 / n):
        log_probs = compact_out(backend, (n, c), dtype)
        loss = compact_out(backend, (), dtype)
        cross_entropy(upload(backend, logits, dtype), upload(backend, target, "int64"), scale,
                      log_probs, loss)  # fmt: skip
        lp = check_log_probs(backend, log_probs, logits, dtype, f"scale {scale}")
        if c == 1:
            np.testing.assert_array_equal(read(backend, log_probs), np.zeros((n, 1)))
        assert_close(read(backend, loss), cross_entropy_loss(lp, target, scale), dtype, k=n * c,
                     scale=scale)  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("bad", [-1, 4, 5, -(2**62), 2**62])
@pytest.mark.parametrize("row", [0, 2])
def test_fused_cross_entropy_rejects_targets_out_of_range(backend, dtype, bad, row):
    """IndexError before anything is written: log_probs and the loss keep their sentinel."""
    need(backend, dtype)
    cross_entropy = optional_kernel(backend, "cross_entropy")
    need(backend, "int64")
    n, c = 3, 4
    target = np.array([1, 3, 0])
    target[row] = bad
    log_probs = compact_out(backend, (n, c), dtype)
    loss = compact_out(backend, (), dtype)
    logits = upload(backend, np.linspace(-1, 1, n * c).reshape(n, c), dtype)
    with pytest.raises(IndexError):
        cross_entropy(logits, upload(backend, target, "int64"), 1.0, log_probs, loss)
    np.testing.assert_array_equal(read(backend, log_probs), np.full((n, c), SENTINEL[dtype]))
    np.testing.assert_array_equal(read(backend, loss), SENTINEL[dtype])


# --- cross_entropy_backward -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_cross_entropy_backward(backend, dtype, data):
    need(backend, dtype)
    backward = optional_kernel(backend, "cross_entropy_backward")
    need(backend, "int64")
    n = data.draw(st.integers(1, 6), label="N")
    c = data.draw(classes_strategy, label="C")
    rng = seed_rng(data)
    log_probs = log_softmax_rows(rng.uniform(-4, 4, (n, c))).astype(NUMPY_DTYPES[dtype])
    target = targets_case(data, n, c)
    grad = data.draw(st.sampled_from([1.0, -0.5, 2.0, 0.0]), label="grad")
    scale = data.draw(st.sampled_from([1.0, 1.0 / n]), label="scale")
    out = compact_out(backend, (n, c), dtype)
    backward(upload(backend, log_probs), target.upload(backend), scalar_at(backend, grad, dtype),
             scale, out)  # fmt: skip
    expected = (np.exp(f64(log_probs)) - one_hot(target.view, c)) * grad * scale
    assert_close(read(backend, out), expected, dtype, k=4, scale=abs(grad * scale),
                 msg=f"target {target.view} grad {grad} scale {scale}")  # fmt: skip


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "c"), BIG_CASES, ids=str)
def test_fused_cross_entropy_backward_many_or_long_rows(backend, dtype, n, c):
    need(backend, dtype)
    backward = optional_kernel(backend, "cross_entropy_backward")
    need(backend, "int64")
    rng = np.random.default_rng(n * c)
    log_probs = log_softmax_rows(rng.uniform(-8, 8, (n, c))).astype(NUMPY_DTYPES[dtype])
    target = rng.integers(0, c, n)
    target[0] = c - 1
    target_strided = upload(backend, np.repeat(target, 3)[::-1].copy(), "int64")
    target_view = Strided(
        target_strided.buffer, (n,), (-3,), 3 * n - 1, "int64"
    )  # reversed, step 3
    out = compact_out(backend, (n, c), dtype)
    backward(upload(backend, log_probs), target_view, scalar_at(backend, 1.5, dtype), 1.0 / n, out)
    expected = (np.exp(f64(log_probs)) - one_hot(target, c)) * 1.5 / n
    assert_close(read(backend, out), expected, dtype, k=4, scale=1.5 / n)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fused_cross_entropy_backward_of_forward(backend, dtype):
    """The backward kernel on the forward kernel's log_probs: softmax - one_hot, scaled."""
    need(backend, dtype)
    forward = optional_kernel(backend, "cross_entropy")
    backward = optional_kernel(backend, "cross_entropy_backward")
    need(backend, "int64")
    n, c = 5, 7
    logits = np.random.default_rng(3).uniform(-5, 5, (n, c))
    target = np.array([6, 0, 3, 3, 1])
    target_view = upload(backend, target, "int64")
    log_probs = compact_out(backend, (n, c), dtype)
    forward(upload(backend, logits, dtype), target_view, 1.0 / n, log_probs,
            compact_out(backend, (), dtype))  # fmt: skip
    out = compact_out(backend, (n, c), dtype)
    backward(log_probs, target_view, scalar_at(backend, 3.0, dtype), 1.0 / n, out)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    if dtype in HALF_DTYPES:
        # A 16-bit log_prob is off by up to eps |log_prob| / 2, which scales its exp by as
        # much: more than one rounding, so take the softmax of the log_probs the forward wrote.
        softmax = np.exp(f64(read(backend, log_probs)))
    expected = (softmax - one_hot(target, c)) * 3.0 / n
    assert_close(read(backend, out), expected, dtype, k=c, scale=3.0)
    # each row of the gradient sums to 0
    np.testing.assert_allclose(read(backend, out).sum(1), 0.0, atol=20 * c * EPS[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("bad", [-1, 4, 2**62])
def test_fused_cross_entropy_backward_rejects_targets_out_of_range(backend, dtype, bad):
    need(backend, dtype)
    backward = optional_kernel(backend, "cross_entropy_backward")
    need(backend, "int64")
    n, c = 3, 4
    log_probs = upload(backend, log_softmax_rows(np.ones((n, c))), dtype)
    target = upload(backend, np.array([0, bad, 1]), "int64")
    out = compact_out(backend, (n, c), dtype)
    with pytest.raises(IndexError):
        backward(log_probs, target, scalar_at(backend, 1.0, dtype), 1.0, out)


# --- softmax / log_softmax and their backwards ---------------------------------------------


def softmax_oracle(x: np.ndarray, log: bool) -> np.ndarray:
    """softmax / log_softmax over the last axis in float64 (NumPy oracle); rows of only -inf
    (or holding +inf or NaN) give NaN, as in torch."""
    x = f64(x)
    if x.size == 0:
        return x.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - x.max(axis=-1, keepdims=True)
        total = np.exp(shifted).sum(axis=-1, keepdims=True)
        return shifted - np.log(total) if log else np.exp(shifted) / total


def softmax_backward_oracle(y: np.ndarray, grad: np.ndarray, log: bool) -> np.ndarray:
    y, grad = f64(y), f64(grad)
    if log:
        return grad - np.exp(y) * grad.sum(axis=-1, keepdims=True)
    return y * (grad - (grad * y).sum(axis=-1, keepdims=True))


def check_softmax(backend, name: str, x: np.ndarray, dtype: str, msg: str = "") -> np.ndarray:
    """Run softmax kernel `name` on compact x; check against the oracle; return the result."""
    kernel = optional_kernel(backend, name)
    x = x.astype(NUMPY_DTYPES[dtype])
    out = compact_out(backend, x.shape, dtype)
    kernel(upload(backend, x, dtype), out)
    got = read(backend, out)
    c = x.shape[-1] if x.ndim else 1
    assert_close(got, softmax_oracle(x, name == "log_softmax"), dtype, k=c, msg=msg)
    return got


@pytest.mark.parametrize("name", SOFTMAX_KERNELS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_softmax(backend, name, dtype, data):
    need(backend, dtype)
    optional_kernel(backend, name)
    shape = data.draw(shapes(min_dims=1), label="shape")
    if data.draw(st.booleans(), label="long rows"):
        shape = shape[:-1] + (data.draw(st.sampled_from([255, 256, 257, 2049]), label="C"),)
    magnitude = data.draw(st.sampled_from([1.0, 30.0, 1000.0]), label="magnitude")
    rng = seed_rng(data)
    x = rng.uniform(-1, 1, shape) * magnitude
    if x.size and data.draw(st.booleans(), label="mask"):  # -inf where attention masks
        x[rng.random(shape) < 0.3] = -np.inf
        x[..., 0] = rng.uniform(-1, 1, shape[:-1])  # a finite entry in every row
    got = check_softmax(backend, name, x, dtype, f"shape {shape} magnitude {magnitude}")
    if x.size and name == "softmax":
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=20 * shape[-1] * EPS[dtype])


@pytest.mark.parametrize("name", SOFTMAX_KERNELS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "c"), BIG_CASES + [(1, 1), (5, 1), (1, 33)], ids=str)
def test_fused_softmax_many_or_long_rows(backend, name, dtype, n, c):
    need(backend, dtype)
    x = np.random.default_rng(n + c).uniform(-8, 8, (n, c))
    check_softmax(backend, name, x, dtype, f"({n}, {c})")


@pytest.mark.parametrize("name", SOFTMAX_KERNELS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fused_softmax_stability_masks_and_nan_rows(backend, name, dtype):
    """+-1000 do not overflow; -inf entries give 0 (log: -inf); a row of only -inf, or one
    holding +inf or NaN, gives NaN throughout (torch's results)."""
    need(backend, dtype)
    inf, nan = np.inf, np.nan
    x = np.array(
        [[1000.0, 0.0, -1000.0, 999.0], [1000.0, 1000.0, 1000.0, 1000.0],
         [-1000.0, -1001.0, -1000.0, -1003.0], [5.0, -inf, -inf, 0.5],
         [-inf, 2.0, -inf, -inf], [-inf, -inf, -inf, -inf], [1.0, inf, 0.0, 2.0],
         [1.0, nan, 0.0, 2.0]],
    )  # fmt: skip
    got = check_softmax(backend, name, x, dtype)
    assert np.isfinite(got[:3]).all(), got
    assert np.isnan(got[5:]).all(), got
    masked = got[3:5][np.isneginf(x[3:5])]
    np.testing.assert_array_equal(masked, -inf if name == "log_softmax" else 0.0)


@pytest.mark.parametrize("name", SOFTMAX_BACKWARDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_softmax_backward(backend, name, dtype, data):
    need(backend, dtype)
    kernel = optional_kernel(backend, name)
    log = name == "log_softmax_backward"
    shape = data.draw(shapes(min_dims=1), label="shape")
    if data.draw(st.booleans(), label="long rows"):
        shape = shape[:-1] + (data.draw(st.sampled_from([255, 257, 2049]), label="C"),)
    rng = seed_rng(data)
    x = rng.uniform(-4, 4, shape)
    if x.size and data.draw(st.booleans(), label="mask"):
        x[rng.random(shape) < 0.3] = -np.inf
        x[..., 0] = 0.0
    y = softmax_oracle(x, log).astype(NUMPY_DTYPES[dtype])
    grad = rng.uniform(-2, 2, shape).astype(NUMPY_DTYPES[dtype])
    out = compact_out(backend, shape, dtype)
    kernel(upload(backend, y, dtype), upload(backend, grad, dtype), out)
    c = shape[-1] if shape else 1
    assert_close(read(backend, out), softmax_backward_oracle(y, grad, log), dtype, k=c,
                 scale=2.0, msg=f"shape {shape}")  # fmt: skip


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "c"), [(3, 7), (700, 3), (2, 5000)], ids=str)
def test_fused_softmax_backward_of_forward(backend, log, dtype, n, c):
    """The backward kernel on the forward kernel's output: the Jacobian-vector product of
    the softmax of x, checked against finite differences of the oracle in float64."""
    need(backend, dtype)
    forward = optional_kernel(backend, "log_softmax" if log else "softmax")
    backward = optional_kernel(backend, "log_softmax_backward" if log else "softmax_backward")
    rng = np.random.default_rng(n * c)
    x, grad = rng.uniform(-5, 5, (n, c)), rng.uniform(-1, 1, (n, c))
    y = compact_out(backend, (n, c), dtype)
    forward(upload(backend, x, dtype), y)
    out = compact_out(backend, (n, c), dtype)
    backward(y, upload(backend, grad, dtype), out)
    # d/dx of sum(grad * softmax(x)) by central differences along one random direction
    v = rng.uniform(-1, 1, (n, c))
    h = 1e-6
    fd = ((grad * softmax_oracle(x + h * v, log)).sum(-1)
          - (grad * softmax_oracle(x - h * v, log)).sum(-1)) / (2 * h)  # fmt: skip
    got = (f64(read(backend, out)) * v).sum(-1)
    # central differences carry about h^2; a 16-bit y (and out) about its eps, relative
    fd_tol = {"float64": 1e-6, "float32": 1e-4}.get(dtype, 4 * EPS[dtype])
    np.testing.assert_allclose(got, fd, rtol=fd_tol, atol=fd_tol * max(1.0, c / 100))
    if log:  # the gradient of log_softmax sums to sum(grad) - sum(grad) * 1 = 0 by rows
        np.testing.assert_allclose(read(backend, out).sum(-1), 0.0, atol=40 * c * EPS[dtype])


@pytest.mark.parametrize("name", SOFTMAX_KERNELS + SOFTMAX_BACKWARDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fused_softmax_kernels_refuse_views_and_write_nothing_when_empty(backend, name, dtype):
    """The softmax kernels take compact operands only (the core compacts); an empty operand
    writes nothing."""
    need(backend, dtype)
    kernel = optional_kernel(backend, name)
    operands = 1 if name in SOFTMAX_KERNELS else 2
    wide = upload(backend, np.ones((2, 6)), dtype)
    strided = Strided(wide.buffer, (2, 3), (6, 2), 0, dtype)
    args = [upload(backend, np.ones((2, 3)), dtype) for _ in range(operands)]
    for position in range(operands):
        bad = list(args)
        bad[position] = strided
        with pytest.raises(ValueError, match="compact"):
            kernel(*bad, compact_out(backend, (2, 3), dtype))
    with pytest.raises(ValueError):
        kernel(*[scalar_at(backend, 1.0, dtype) for _ in range(operands)],
               compact_out(backend, (), dtype))  # fmt: skip
    other = "float64" if dtype == "float32" else "float32"
    with pytest.raises(TypeError):  # operands of two dtypes
        kernel(*args, compact_out(backend, (2, 3), other))
    for shape in ((0, 3), (3, 0)):
        kernel(*[compact_out(backend, shape, dtype) for _ in range(operands)],
               compact_out(backend, shape, dtype))  # fmt: skip


# --- argument checks ------------------------------------------------------------------------


def _int64_call(backend, name: str):
    """A call of kernel `name` with int64 floating operands (a dtype the kernels refuse)."""
    i64 = "int64"
    data = np.arange(6).reshape(2, 3)
    target = upload(backend, np.array([0, 2]), i64)
    if name == "relu_backward":
        return lambda k: k(
            upload(backend, data), upload(backend, data), compact_out(backend, (2, 3), i64)
        )
    if name == "axpy":
        return lambda k: k(2.0, upload(backend, data), upload(backend, data))
    if name == "cross_entropy":
        return lambda k: k(upload(backend, data), target, 1.0, compact_out(backend, (2, 3), i64),
                           compact_out(backend, (), i64))  # fmt: skip
    if name in SOFTMAX_KERNELS:
        return lambda k: k(upload(backend, data), compact_out(backend, (2, 3), i64))
    if name in SOFTMAX_BACKWARDS:
        return lambda k: k(upload(backend, data), upload(backend, data),
                           compact_out(backend, (2, 3), i64))  # fmt: skip
    return lambda k: k(upload(backend, data), target, scalar_at(backend, 1, "int64"), 1.0,
                       compact_out(backend, (2, 3), i64))  # fmt: skip


@pytest.mark.parametrize("name", FUSED_CHECKED)
def test_fused_kernels_refuse_int64(backend, name):
    kernel = optional_kernel(backend, name)
    need(backend, "int64")
    with pytest.raises(TypeError):
        _int64_call(backend, name)(kernel)


def _mismatched_calls(backend, name: str, dtype: str):
    """Calls of kernel `name` whose operands' shapes disagree."""
    a = upload(backend, np.ones((2, 3)), dtype)
    b = upload(backend, np.ones((3, 2)), dtype)
    if name == "relu_backward":
        return [
            lambda k: k(a, b, compact_out(backend, (2, 3), dtype)),
            lambda k: k(a, a, compact_out(backend, (3, 2), dtype)),
        ]
    if name == "axpy":
        return [lambda k: k(1.0, a, b), lambda k: k(1.0, upload(backend, np.ones(3), dtype), a)]
    if name in SOFTMAX_KERNELS:
        return [lambda k: k(a, compact_out(backend, (3, 2), dtype))]
    if name in SOFTMAX_BACKWARDS:
        out = compact_out(backend, (2, 3), dtype)
        return [lambda k: k(a, b, out), lambda k: k(a, a, compact_out(backend, (6,), dtype))]
    t2 = upload(backend, np.array([0, 1]), "int64")
    t3 = upload(backend, np.array([0, 1, 1]), "int64")
    out23 = compact_out(backend, (2, 3), dtype)
    zero_d = scalar_at(backend, 1.0, dtype)
    if name == "cross_entropy":
        return [
            lambda k: k(a, t3, 1.0, out23, compact_out(backend, (), dtype)),  # target (3,)
            lambda k: k(a, t2, 1.0, compact_out(backend, (3, 2), dtype), zero_d),  # log_probs
            lambda k: k(a, t2, 1.0, out23, compact_out(backend, (1,), dtype)),  # loss not 0-d
            lambda k: k(upload(backend, np.ones(6), dtype), t2, 1.0, out23, zero_d),  # 1-d logits
        ]
    return [
        lambda k: k(a, t3, zero_d, 1.0, out23),  # target (3,)
        lambda k: k(a, t2, zero_d, 1.0, compact_out(backend, (3, 2), dtype)),  # out
        lambda k: k(b, t2, zero_d, 1.0, out23),  # log_probs (3, 2)
        lambda k: k(a, t2, upload(backend, np.ones(2), dtype), 1.0, out23),  # grad not 0-d
    ]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", FUSED_CHECKED)
def test_fused_kernels_refuse_mismatched_shapes(backend, name, dtype):
    need(backend, dtype)
    kernel = optional_kernel(backend, name)
    need(backend, "int64")
    for call in _mismatched_calls(backend, name, dtype):
        with pytest.raises(ValueError):
            call(kernel)
