"""The LSTM gate kernels as the core uses them (`plugrad.ops.fused.lstm_gates` and its
backward): c_cpu's kernel, its composite with the kernel hidden, and numpy_ref's composite give
the gate formulas of NumPy, for operands laid out as views (a non-unit stride along the rows is
compacted before the kernel sees it)."""

from __future__ import annotations

import numpy as np
import pytest
from test_fused import DTYPES, PATHS, array, on_path, tol

from plugrad.ndarray import NDArray
from plugrad.ops import fused

LAYOUTS = ("compact", "strided", "transposed")


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_gates(projected, recurrent, c_prev):
    i, f, g, o = np.split(projected + recurrent, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    return np.concatenate([i, f, g, o], 1), c, o * np.tanh(c)


def outputs(device, dtype, *shapes) -> list[NDArray]:
    from plugrad.backend.registry import get_device

    return [NDArray.empty(shape, dtype, get_device(device)) for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", PATHS)
def test_lstm_gates_paths(path, layout, dtype):
    rng = np.random.default_rng(3)
    n, hidden = 5, 3
    projected, recurrent = rng.normal(0, 2, (2, n, 4 * hidden))
    c_prev = rng.normal(size=(n, hidden))
    with on_path(path, "lstm_gates") as (device, _):
        gates, c, h = outputs(device, dtype, (n, 4 * hidden), (n, hidden), (n, hidden))
        fused.lstm_gates(array(projected, device, dtype, layout),
                         array(recurrent, device, dtype), array(c_prev, device, dtype, layout),
                         gates, c, h)  # fmt: skip
    for got, expected in zip((gates, c, h), numpy_gates(projected, recurrent, c_prev)):
        np.testing.assert_allclose(got.numpy(), expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", PATHS)
def test_lstm_gates_backward_paths(path, layout, dtype):
    rng = np.random.default_rng(4)
    n, hidden = 4, 3
    gates = np.concatenate([rng.uniform(0, 1, (n, 2 * hidden)), rng.uniform(-1, 1, (n, hidden)),
                            rng.uniform(0, 1, (n, hidden))], 1)  # fmt: skip
    dh, dc, c, c_prev = rng.normal(size=(4, n, hidden))
    i, f, g, o = np.split(gates, 4, axis=1)
    t = np.tanh(c)
    total = dc + dh * o * (1 - t * t)
    expected_d_pre = np.concatenate([total * g * i * (1 - i), total * c_prev * f * (1 - f),
                                     total * i * (1 - g * g), dh * t * o * (1 - o)], 1)  # fmt: skip
    with on_path(path, "lstm_gates_backward") as (device, _):
        d_pre, dc_prev = outputs(device, dtype, (n, 4 * hidden), (n, hidden))
        operands = [array(x, device, dtype, layout) for x in (dh, dc, gates, c, c_prev)]
        fused.lstm_gates_backward(*operands, d_pre, dc_prev)
    np.testing.assert_allclose(d_pre.numpy(), expected_d_pre, **tol(dtype))
    np.testing.assert_allclose(dc_prev.numpy(), total * f, **tol(dtype))
