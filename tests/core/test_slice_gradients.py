"""Gradients through many basic-indexing slices of one tensor (x[t] per time step, chunks of a
gate tensor). The backward pass adds each slice's gradient into its input's pending gradient
in place when it alone holds it (autograd/engine.py, _add_into_pending): these check that the
sums are those of the general path, whatever else reads the tensor, and that nothing the user
can see is written into."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

DEVICES = [d for d in ("c_cpu", "numpy_ref") if d in plugrad.available_devices()]


def _x(device, shape=(5, 3, 8), seed=0):
    values = np.random.default_rng(seed).standard_normal(shape)
    return values, plugrad.tensor(values, device=device, requires_grad=True)


@pytest.mark.parametrize("device", DEVICES)
def test_per_step_slices_and_chunks_sum_into_the_input(device):
    values, x = _x(device)
    weights = np.random.default_rng(1).standard_normal(values.shape)
    w = plugrad.tensor(weights, device=device)
    total = 0
    for t in range(values.shape[0]):
        a, b, c, d = x[t].chunk(4, dim=-1)
        wa, wb, wc, wd = w[t].chunk(4, dim=-1)
        total = total + (a * wa).sum() + (b * wb).sum() + (c.tanh() * wc).sum() + (d * wd).sum()
    total.backward()
    expected = weights.copy()
    expected[..., 4:6] *= 1 - np.tanh(values[..., 4:6]) ** 2
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("slices_first", [True, False])
def test_slices_with_other_readers_overlaps_and_broadcast_gradients(device, slices_first):
    values, x = _x(device)
    # x.sum()'s gradient is a broadcast view: it must not be written into in place.
    parts = [(x[0] * 2).sum(), (x[1:3] * 3).sum(), (x[2:4] * 5).sum(), x[4, 1].sum()]
    whole = x.sum()
    y = sum(parts, start=0) + whole if slices_first else whole + sum(parts, start=0)
    y.backward()
    expected = np.ones_like(values)
    expected[0] += 2
    expected[1:3] += 3
    expected[2:4] += 5
    expected[4, 1] += 1
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("slice_first", [True, False])
def test_a_gradient_given_to_two_inputs_is_not_written_into(device, slice_first):
    values, x = _x(device)
    a, b = x * 2.0, x * 3.0
    t = a + b  # add hands one gradient buffer to both of its inputs
    weights = np.random.default_rng(2).standard_normal(values.shape)
    whole = (t * plugrad.tensor(weights, device=device)).sum()
    part = (a[0] * 7).sum() + (b[1] * 11).sum()
    (part + whole if slice_first else whole + part).backward()
    expected = 5 * weights
    expected[0] += 14
    expected[1] += 33
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_retained_grads_hooks_autograd_grad_and_retain_graph(device):
    values, x = _x(device)
    h = x * 2.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    loss = sum(((h[t] * (t + 1)).sum() for t in range(values.shape[0])), start=0)
    (grad_h,) = plugrad.autograd.grad(loss, [h], retain_graph=True)
    expected_h = np.broadcast_to(np.arange(1, 6).reshape(5, 1, 1), values.shape)
    np.testing.assert_allclose(grad_h.numpy(), expected_h)
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * expected_h)
    np.testing.assert_allclose(x.grad.numpy(), 4 * expected_h)
    assert len(seen) == 3 and all(np.array_equal(s, expected_h) for s in seen)
    np.testing.assert_allclose(grad_h.numpy(), expected_h)  # not written into since


@pytest.mark.parametrize("device", DEVICES)
def test_double_backward_through_slices(device):
    values, x = _x(device, shape=(4, 3))
    y = sum(((x[t] ** 3).sum() for t in range(4)), start=0)
    (g,) = plugrad.autograd.grad(y, [x], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(g.detach().numpy(), 3 * values**2, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 6 * values, rtol=1e-12)
