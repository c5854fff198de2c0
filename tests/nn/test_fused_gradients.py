"""linear and cross_entropy run as single fused graph nodes; their gradients, first and second
order, still match finite differences in float64 on every device."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn.functional as F
from plugrad.testing.gradcheck import gradcheck


@pytest.fixture(params=plugrad.available_devices())
def device(request):
    return request.param


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)], ids=str)
def test_linear_gradients(device, x_shape):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((3, 4)), rng.standard_normal(3)
    gradcheck(F.linear, x, w, b, device=device)
    gradcheck(lambda x, w: F.linear(x, w), x, w, device=device)


def test_linear_second_order(device):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)

    def grad_wrt_x(x, w, b):
        out = F.linear(x, w, b).tanh().sum()
        return plugrad.autograd.grad(out, x, create_graph=True)[0]

    gradcheck(grad_wrt_x, x, w, b, device=device, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradients(device, reduction):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 5)) * 3
    target = plugrad.tensor([0, 4, 2, 2, 1, 3], device=device)
    gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction), logits, device=device)

    def grad_wrt_logits(z):
        loss = F.cross_entropy(z * z, target, reduction=reduction)
        return plugrad.autograd.grad(loss, z, create_graph=True)[0]

    gradcheck(grad_wrt_logits, logits, device=device, atol=1e-4, rtol=1e-3)


def test_cross_entropy_checks_targets(device):
    logits = plugrad.zeros(2, 3, device=device)
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, plugrad.tensor([0, 3], device=device))
    with pytest.raises(ValueError, match="linear"):
        F.linear(plugrad.zeros(2, 5, device=device), plugrad.zeros(3, 4, device=device))


def test_backward_twice_with_retained_graph(device):
    logits = plugrad.randn(4, 3, device=device, requires_grad=True)
    loss = F.cross_entropy(logits, plugrad.tensor([0, 1, 2, 1], device=device))
    loss.backward(retain_graph=True)
    first = logits.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(logits.grad.numpy(), 2 * first, rtol=1e-6)
