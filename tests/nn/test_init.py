"""plugrad.nn.init without the oracle: reproducibility, errors, and the depth experiment."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn


def test_init_is_reproducible_with_manual_seed(device):
    def draw():
        plugrad.manual_seed(123)
        return nn.Linear(7, 5, device=device).weight.detach().numpy().copy()

    np.testing.assert_array_equal(draw(), draw())
    plugrad.manual_seed(124)
    assert not np.array_equal(draw(), nn.Linear(7, 5, device=device).weight.detach().numpy())


def test_init_with_an_explicit_generator(device):
    t1, t2 = plugrad.empty(4, 4, device=device), plugrad.empty(4, 4, device=device)
    nn.init.normal_(t1, generator=plugrad.Generator(5))
    plugrad.manual_seed(99)  # the global generator does not matter
    nn.init.normal_(t2, generator=plugrad.Generator(5))
    np.testing.assert_array_equal(t1.numpy(), t2.numpy())


def test_init_runs_without_recording_a_graph(device):
    layer = nn.Linear(3, 3, device=device)
    nn.init.kaiming_normal_(layer.weight)
    assert layer.weight.is_leaf and layer.weight.requires_grad and layer.weight.grad is None


def test_init_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(plugrad.empty(5))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_normal_(plugrad.empty(3, 3), mode="fan_middle")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(TypeError, match="floating-point"):
        nn.init.normal_(plugrad.zeros(3, dtype=plugrad.int64))


def _second_moments(init, depth: int = 50, width: int = 100, device: object = None) -> list[float]:
    """E[x^2] after each layer of a `depth`-layer ReLU MLP with zero biases."""
    plugrad.manual_seed(0)
    x = plugrad.randn(500, width, device=device)
    out = []
    with plugrad.no_grad():
        for _ in range(depth):
            layer = nn.Linear(width, width, device=device)
            init(layer.weight)
            nn.init.zeros_(layer.bias)
            x = layer(x).relu()
            out.append((x * x).mean().item())
    return out


def test_kaiming_normal_keeps_activation_variance_through_50_relu_layers(device):
    """He et al. (and the course): with W ~ N(0, 2 / fan_in), each ReLU layer keeps E[x^2]:
    Var(W x) = fan_in * (2 / fan_in) * E[x^2] and ReLU halves it back. Xavier's 1 / fan_in
    halves it at every layer, so after 50 layers it has all but vanished (2^-50)."""
    kaiming = _second_moments(
        lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), device=device
    )
    xavier = _second_moments(lambda w: nn.init.normal_(w, 0.0, math.sqrt(1.0 / 100)), device=device)
    assert all(0.1 < m < 10.0 for m in kaiming), (
        kaiming
    )  # started at E[relu(z)^2] = 1 for z ~ N(0, 2)
    per_layer = (kaiming[-1] / kaiming[0]) ** (1 / 49)
    assert 0.95 < per_layer < 1.05
    assert xavier[-1] / xavier[0] < 1e-10
    assert 0.4 < (xavier[-1] / xavier[0]) ** (1 / 49) < 0.6
