"""plugrad.nn.init against torch.nn.init: gains, fans, and the moments of every distribution
(mean, standard deviation, excess kurtosis and range) on every installed device."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

SHAPE = (300, 400)  # 120,000 draws: the sample moments are within a few 1e-3 of the true ones


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
])  # fmt: skip
def test_calculate_gain(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12
    )


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (2, 7, 3)])
def test_fans(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(plugrad.zeros(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))


def moments(a: np.ndarray) -> tuple[float, float, float]:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    mean, std = a.mean(), a.std()
    kurtosis = ((a - mean) ** 4).mean() / std**4 - 3.0
    return mean, std, kurtosis


CASES = {
    "uniform": (
        lambda t: nn.init.uniform_(t, -2.0, 3.0),
        lambda t: torch.nn.init.uniform_(t, -2.0, 3.0),
    ),
    "normal": (
        lambda t: nn.init.normal_(t, 0.5, 2.0),
        lambda t: torch.nn.init.normal_(t, 0.5, 2.0),
    ),
    "xavier_uniform": (
        lambda t: nn.init.xavier_uniform_(t, gain=1.5),
        lambda t: torch.nn.init.xavier_uniform_(t, gain=1.5),
    ),
    "xavier_normal": (nn.init.xavier_normal_, torch.nn.init.xavier_normal_),
    "kaiming_uniform_fan_in_relu": (
        lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"),
        lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
    ),
    "kaiming_uniform_a_sqrt5": (
        lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
        lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
    ),
    "kaiming_normal_fan_out_tanh": (
        lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
        lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
    ),
    "kaiming_normal_leaky": (
        lambda t: nn.init.kaiming_normal_(t, a=0.1),
        lambda t: torch.nn.init.kaiming_normal_(t, a=0.1),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [plugrad.float32, plugrad.float64], ids=lambda d: d.name)
def test_distribution_moments_match_torch(device, dtype, name):
    ours_fn, theirs_fn = CASES[name]
    plugrad.manual_seed(0)
    torch.manual_seed(0)
    ours = ours_fn(plugrad.empty(*SHAPE, dtype=dtype, device=device))
    theirs = theirs_fn(torch.empty(*SHAPE, dtype=torch.float64))
    assert ours.dtype is dtype and ours.device is device
    a, b = ours.numpy(), theirs.numpy()
    (m1, s1, k1), (m2, s2, k2) = moments(a), moments(b)
    n = a.size
    # means within 6 standard errors; std within 2%; the shape (kurtosis) within 0.1
    assert abs(m1 - m2) < 6 * s2 * math.sqrt(2.0 / n)
    assert s1 == pytest.approx(s2, rel=0.02)
    assert k1 == pytest.approx(k2, abs=0.1)
    if "uniform" in name:  # same support
        assert a.min() >= b.min() - 0.01 * s2 and a.max() <= b.max() + 0.01 * s2
        assert a.min() == pytest.approx(b.min(), abs=0.01 * s2)


def test_constant_zeros_ones(device):
    t = plugrad.empty(3, 4, device=device)
    assert (nn.init.constant_(t, 2.5).numpy() == 2.5).all()
    assert (nn.init.zeros_(t).numpy() == 0).all()
    assert (nn.init.ones_(t).numpy() == 1).all()
