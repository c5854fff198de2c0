"""The optional LSTM gate kernels (`protocol.FusedKernels.lstm_gates` and its backward) of a
backend against the gate formulas in NumPy (float64). Operands have unit stride along their
rows and any row stride; a backend without the kernels skips (the core composes them, see
plugrad.ops.fused). Run with `pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugrad.backend.protocol import Strided
from plugrad.testing.helpers import assert_close, compact_out, need, read, upload
from plugrad.testing.strategies import FLOAT_DTYPES, NUMPY_DTYPES, kit_settings
from plugrad.testing.test_fused_kernels import optional_kernel

LSTM_KERNELS = ("lstm_gates", "lstm_gates_backward")
# (N, H) beyond hypothesis' small draws: a row split over threads, vector tails, one row
WIDE_CASES = [(32, 256), (64, 37), (1, 1000), (300, 3)]


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(1e4) is inf: the sigmoid is then 0, as it should be
        return 1 / (1 + np.exp(-x))


def gates_oracle(projected, recurrent, c_prev):
    """(gates, c, h) of one step in float64, torch's gate order (i, f, g, o)."""
    pre = np.asarray(projected, np.float64) + np.asarray(recurrent, np.float64)
    i, f, g, o = np.split(pre, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * np.asarray(c_prev, np.float64) + i * g
    return np.concatenate([i, f, g, o], axis=1), c, o * np.tanh(c)


def gates_backward_oracle(dh, dc, gates, c, c_prev):
    """(d_pre, dc_prev) in float64 from the step's gates and c, as lstm_gates_backward reads."""
    dh, dc, c, c_prev = (np.asarray(x, np.float64) for x in (dh, dc, c, c_prev))
    i, f, g, o = np.split(np.asarray(gates, np.float64), 4, axis=1)
    t = np.tanh(c)
    total = dc + dh * o * (1 - t * t)
    d_pre = [total * g * i * (1 - i), total * c_prev * f * (1 - f), total * i * (1 - g * g),
             dh * t * o * (1 - o)]  # fmt: skip
    return np.concatenate(d_pre, axis=1), total * f


def rows_view(backend, array: np.ndarray, dtype: str, pad: int, offset: int) -> Strided:
    """array (N, W) as a view with unit stride along its rows, rows W + pad apart, starting
    `offset` elements into a buffer of junk."""
    n, w = array.shape
    host = np.full(offset + n * (w + pad) + 1, -77.0, dtype=NUMPY_DTYPES[dtype])
    body = host[offset : offset + n * (w + pad)].reshape(n, w + pad)
    body[:, :w] = array
    return Strided(backend.from_numpy(host), (n, w), (w + pad, 1), offset, dtype)


def _round(array: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(array).astype(NUMPY_DTYPES[dtype])


def check_gates(backend, dtype: str, n: int, hidden: int, rng, pad: int = 0, offset: int = 0):
    kernel = optional_kernel(backend, "lstm_gates")
    projected = _round(rng.normal(0, 2, (n, 4 * hidden)), dtype)
    recurrent = _round(rng.normal(0, 2, (n, 4 * hidden)), dtype)
    c_prev = _round(rng.normal(0, 1.5, (n, hidden)), dtype)
    outs = [
        compact_out(backend, shape, dtype) for shape in ((n, 4 * hidden), (n, hidden), (n, hidden))
    ]
    inputs = [rows_view(backend, x, dtype, pad, offset) for x in (projected, recurrent, c_prev)]
    kernel(*inputs, *outs)
    expected = gates_oracle(projected, recurrent, c_prev)
    msg = f"(N, H) = {(n, hidden)} pad {pad} offset {offset}"
    for out, value, k, name in zip(outs, expected, (1, 4, 8), ("gates", "c", "h")):
        assert_close(read(backend, out), value, dtype, k=k, scale=3.0, msg=f"{name} {msg}")


def check_gates_backward(backend, dtype: str, n: int, hidden: int, rng, pad=0, offset=0):
    kernel = optional_kernel(backend, "lstm_gates_backward")
    sig = lambda *shape: rng.uniform(0, 1, shape)  # noqa: E731
    gates = np.concatenate([sig(n, 2 * hidden), rng.uniform(-1, 1, (n, hidden)),
                            sig(n, hidden)], axis=1)  # fmt: skip
    dh, dc, c, c_prev = (rng.normal(0, 1.5, (n, hidden)) for _ in range(4))
    inputs = [_round(x, dtype) for x in (dh, dc, gates, c, c_prev)]
    outs = [compact_out(backend, (n, 4 * hidden), dtype), compact_out(backend, (n, hidden), dtype)]
    kernel(*(rows_view(backend, x, dtype, pad, offset) for x in inputs), *outs)
    expected = gates_backward_oracle(*inputs)
    msg = f"(N, H) = {(n, hidden)} pad {pad} offset {offset}"
    for out, value, name in zip(outs, expected, ("d_pre", "dc_prev")):
        assert_close(read(backend, out), value, dtype, k=8, scale=5.0, msg=f"{name} {msg}")


CHECKS = {"lstm_gates": check_gates, "lstm_gates_backward": check_gates_backward}


@pytest.mark.parametrize("name", LSTM_KERNELS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@kit_settings()
@given(data=st.data())
def test_fused_lstm_kernels_match_the_formulas(backend, name, dtype, data):
    need(backend, dtype)
    n = data.draw(st.integers(0, 5), label="N")
    hidden = data.draw(st.integers(0, 9), label="H")
    pad = data.draw(st.integers(0, 3), label="row padding")
    offset = data.draw(st.integers(0, 3), label="offset")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    CHECKS[name](backend, dtype, n, hidden, rng, pad, offset)


@pytest.mark.parametrize("name", LSTM_KERNELS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("n", "hidden"), WIDE_CASES, ids=str)
def test_fused_lstm_kernels_on_wide_rows(backend, name, dtype, n, hidden):
    need(backend, dtype)
    CHECKS[name](backend, dtype, n, hidden, np.random.default_rng(n * hidden), pad=5, offset=1)


def test_fused_lstm_gates_saturate_without_overflow(backend):
    """Pre-activations of +-100 and +-1e4 saturate the gates (tanh at +-1), never NaN."""
    need(backend, "float32")
    kernel = optional_kernel(backend, "lstm_gates")
    big = np.array([[100.0, -100.0, 1e4, -1e4, 100.0, -100.0, 1e4, -1e4]], np.float32)
    outs = [compact_out(backend, shape, "float32") for shape in ((1, 8), (1, 2), (1, 2))]
    c_prev = np.ones((1, 2))
    zero = upload(backend, np.zeros((1, 8)), "float32")
    kernel(upload(backend, big), zero, upload(backend, c_prev, "float32"), *outs)
    for out, expected in zip(outs, gates_oracle(big, np.zeros((1, 8)), c_prev)):
        got = read(backend, out)
        assert np.isfinite(got).all(), got
        assert_close(got, expected, "float32")
    np.testing.assert_array_equal(read(backend, outs[0])[0, 4:], [1, -1, 1, 0])


def _calls(backend, name: str, dtype: str):
    """Calls of kernel `name` whose operands are wrong, each with the error it must raise."""

    def up(*shape, dt=dtype):
        return upload(backend, np.ones(shape), dt)

    if name == "lstm_gates":
        good = [up(2, 8), up(2, 8), up(2, 2), up(2, 8), up(2, 2), up(2, 2)]
    else:
        good = [up(2, 2), up(2, 2), up(2, 8), up(2, 2), up(2, 2), up(2, 8), up(2, 2)]
    cases = []
    for position, view in enumerate(good):
        wrong = list(good)
        n, w = view.shape
        wrong[position] = up(n, w + 1)  # a width that is not the operand's share of H
        cases.append((ValueError, wrong))
        strided = Strided(view.buffer, (n, w // 2), (w, 2), 0, dtype)
        if w // 2 > 1:
            wrong = list(good)
            wrong[position] = strided
            cases.append((ValueError, wrong))  # strided along the row
    wrong = list(good)
    wrong[0] = up(2, good[0].shape[1], dt="float64" if dtype == "float32" else "float32")
    cases.append((TypeError, wrong))  # two dtypes
    cases.append((ValueError, [up(1, 2, 2) for _ in good]))  # 3-D
    return cases


@pytest.mark.parametrize("name", LSTM_KERNELS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_lstm_kernels_refuse_bad_operands(backend, name, dtype):
    need(backend, dtype)
    kernel = optional_kernel(backend, name)
    for error, operands in _calls(backend, name, dtype):
        with pytest.raises(error):
            kernel(*operands)


@pytest.mark.parametrize("name", LSTM_KERNELS)
def test_fused_lstm_kernels_refuse_int64(backend, name):
    need(backend, "int64")
    kernel = optional_kernel(backend, name)
    count = 6 if name == "lstm_gates" else 7
    with pytest.raises(TypeError):
        kernel(*(upload(backend, np.ones((2, 4)), "int64") for _ in range(count)))
