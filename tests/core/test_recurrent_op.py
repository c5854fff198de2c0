"""The LSTM recurrence as one node: a step (plugrad.ops.recurrent.LSTMGates, which nn.LSTMCell
uses) and a whole layer's sequence (LSTMSequence, which nn.LSTM uses), in either direction:
values against the gate formulas in NumPy, gradients against finite differences, second
derivatives (create_graph) likewise, and in-place writes to the output after the forward
leave the gradients alone."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad.autograd import gradcheck, gradgradcheck
from plugrad.ops.recurrent import LSTMGates, LSTMSequence

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


def sequence_inputs(device, length=4, n=3, hidden=2, dtype=plugrad.float64):
    rng = np.random.default_rng(11)
    make = lambda *shape: plugrad.tensor(  # noqa: E731
        rng.normal(size=shape), dtype=dtype, device=device, requires_grad=True
    )
    return (make(length, n, 4 * hidden), make(4 * hidden, hidden), make(n, hidden),
            make(n, hidden))  # fmt: skip


def numpy_sequence(projected, weight_hh, h0, c0, reverse):
    """h at every time (L, N, H) and the last c, step by step in NumPy."""
    length = projected.shape[0]
    hs = np.empty(projected.shape[:2] + h0.shape[1:])
    h, c = h0, c0
    for t in range(length - 1, -1, -1) if reverse else range(length):
        h, c = numpy_cell(projected[t], h @ weight_hh.T, c)
        hs[t] = h
    return hs, c


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("device", DEVICES)
def test_sequence_matches_the_steps_in_numpy(device, reverse):
    operands = sequence_inputs(device, length=5, n=4, hidden=3)
    out = LSTMSequence(reverse)(*operands)
    hs, c = numpy_sequence(*(x.detach().numpy() for x in operands), reverse)
    assert out.shape == (6, 4, 3)
    np.testing.assert_allclose(out[:5].detach().numpy(), hs, rtol=1e-12)
    np.testing.assert_allclose(out[5].detach().numpy(), c, rtol=1e-12)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("device", DEVICES)
def test_sequence_gradients_match_finite_differences(device, reverse):
    assert gradcheck(LSTMSequence(reverse), sequence_inputs(device))


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_sequence_second_derivatives_match_finite_differences(reverse):
    assert gradgradcheck(LSTMSequence(reverse), sequence_inputs("c_cpu", length=3))


def test_sequence_of_one_step_is_one_cell():
    projected, weight_hh, h0, c0 = sequence_inputs("c_cpu", length=1)
    out = LSTMSequence()(projected, weight_hh, h0, c0)
    hc = gates(projected[0], h0 @ weight_hh.T, c0)
    np.testing.assert_allclose(out.detach().numpy(), hc.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_writing_over_the_output_leaves_the_gradients_alone(device):
    """The node keeps its own h, c and gates: a later in-place write to its output (here, a
    relu_ on the outputs) changes nothing the backward reads."""
    grads = []
    for in_place in (False, True):
        operands = sequence_inputs(device, length=4)
        out = LSTMSequence()(*operands)
        loss = out.sum()  # its gradient reads no values
        if in_place:
            out.detach().relu_()  # the same buffer, outside the graph
        loss.backward()
        grads.append([x.grad.numpy() for x in operands])
    for plain, written in zip(*grads):
        np.testing.assert_array_equal(plain, written)
