"""The LSTM gates as one node (plugrad.ops.recurrent.LSTMGates), which nn.LSTM and nn.LSTMCell
use: its values against the gate formulas in NumPy, its gradients against finite
differences, and its second derivatives (create_graph) likewise."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad.autograd import gradcheck, gradgradcheck
from plugrad.ops.recurrent import LSTMGates

DEVICES = ("numpy_ref", "c_cpu")


def gates(projected, recurrent, c_prev):
    return LSTMGates()(projected, recurrent, c_prev)


def numpy_cell(p, r, c_prev):
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = np.split(p + r, 4, axis=-1)
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def inputs(device, n=3, hidden=2, dtype=plugrad.float64):
    rng = np.random.default_rng(7)
    make = lambda *shape: plugrad.tensor(  # noqa: E731
        rng.normal(size=shape), dtype=dtype, device=device, requires_grad=True
    )
    return make(n, 4 * hidden), make(n, 4 * hidden), make(n, hidden)


@pytest.mark.parametrize("device", DEVICES)
def test_h_and_c_match_the_gate_formulas(device):
    p, r, c_prev = inputs(device, n=4, hidden=5)
    hc = gates(p, r, c_prev)
    h, c = numpy_cell(p.detach().numpy(), r.detach().numpy(), c_prev.detach().numpy())
    assert hc.shape == (2, 4, 5)
    np.testing.assert_allclose(hc[0].detach().numpy(), h, rtol=1e-12)
    np.testing.assert_allclose(hc[1].detach().numpy(), c, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_match_finite_differences(device):
    assert gradcheck(gates, inputs(device))


@pytest.mark.parametrize("device", DEVICES)
def test_second_derivatives_match_finite_differences(device):
    assert gradgradcheck(gates, inputs(device))


def test_float32_gradient_of_h_alone_matches_float64():
    grads = {}
    for dtype in (plugrad.float32, plugrad.float64):
        p, r, c_prev = inputs("c_cpu", n=6, hidden=4, dtype=dtype)
        gates(p, r, c_prev)[0].sum().backward()
        grads[dtype] = [t.grad.numpy().astype(np.float64) for t in (p, r, c_prev)]
    for single, double in zip(grads[plugrad.float32], grads[plugrad.float64]):
        np.testing.assert_allclose(single, double, rtol=1e-5, atol=1e-6)
