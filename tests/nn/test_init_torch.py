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
    "trunc_normal": (nn.init.trunc_normal_, torch.nn.init.trunc_normal_),
    "trunc_normal_asymmetric": (
        lambda t: nn.init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0),
        lambda t: torch.nn.init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0),
    ),
    "trunc_normal_one_sided": (
        lambda t: nn.init.trunc_normal_(t, mean=1.0, std=0.5, a=1.0, b=math.inf),
        lambda t: torch.nn.init.trunc_normal_(t, mean=1.0, std=0.5, a=1.0, b=math.inf),
    ),
    "trunc_normal_far_tail": (  # [2, 4] std out: erfinv near +-1
        lambda t: nn.init.trunc_normal_(t, a=2.0, b=4.0),
        lambda t: torch.nn.init.trunc_normal_(t, a=2.0, b=4.0),
    ),
    "orthogonal": (nn.init.orthogonal_, torch.nn.init.orthogonal_),
    "orthogonal_gain": (
        lambda t: nn.init.orthogonal_(t.T, gain=1.5),
        lambda t: torch.nn.init.orthogonal_(t.T, gain=1.5),
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
    if "uniform" in name or ("trunc" in name and "one_sided" not in name):  # same support
        assert a.min() >= b.min() - 0.01 * s2 and a.max() <= b.max() + 0.01 * s2
        assert a.min() == pytest.approx(b.min(), abs=0.01 * s2)


def test_constant_zeros_ones(device):
    t = plugrad.empty(3, 4, device=device)
    assert (nn.init.constant_(t, 2.5).numpy() == 2.5).all()
    assert (nn.init.zeros_(t).numpy() == 0).all()
    assert (nn.init.ones_(t).numpy() == 1).all()


BOUNDS = [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 0.02, -0.04, 0.04),
          (-3.0, 1.0, -5.0, -4.0)]  # fmt: skip


@pytest.mark.parametrize("mean,std,a,b", BOUNDS)
def test_trunc_normal_stays_within_its_bounds_and_fills_them(device, mean, std, a, b):
    t = nn.init.trunc_normal_(plugrad.empty(200, 300, device=device), mean, std, a, b)
    values = t.numpy()
    assert np.isfinite(values).all() and values.min() >= a and values.max() <= b
    span = b - a
    assert values.min() < a + 0.01 * span and values.max() > b - 0.01 * span


def test_trunc_normal_errors_and_warning():
    with pytest.raises(ValueError, match="std > 0"):
        nn.init.trunc_normal_(plugrad.empty(3), std=0.0)
    with pytest.raises(ValueError, match="a < b"):
        nn.init.trunc_normal_(plugrad.empty(3), a=1.0, b=1.0)
    with pytest.warns(UserWarning, match="more than 2 std"):
        nn.init.trunc_normal_(plugrad.empty(3), mean=5.0, a=-1.0, b=1.0)
    with pytest.raises(TypeError, match="floating-point"):
        nn.init.trunc_normal_(plugrad.zeros(3, dtype=plugrad.int64))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3), (6, 6)])
@pytest.mark.parametrize("dtype", [plugrad.float32, plugrad.float64], ids=lambda d: d.name)
def test_orthogonal_rows_or_columns_are_orthonormal(device, shape, dtype):
    t = plugrad.empty(*shape, dtype=dtype, device=device)
    assert nn.init.orthogonal_(t, gain=2.0) is t and t.device is device and t.dtype is dtype
    q = t.numpy().astype(np.float64).reshape(shape[0], -1)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    tol = 1e-12 if dtype is plugrad.float64 else 1e-5
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=tol)


def test_orthogonal_is_haar_distributed_and_reproducible(device):
    """The signs of R's diagonal go into Q, which makes Q uniform over the orthogonal group:
    for 2 x 2, Q[0, 0] = cos(theta) with theta uniform (mean 0, E[cos^2] = 1/2) and
    det Q = +-1 equally often. Without the correction Q[0, 0] would keep one sign."""
    generator = plugrad.Generator().manual_seed(3)
    draws = [nn.init.orthogonal_(plugrad.empty(2, 2, dtype=plugrad.float64, device=device),
                                 generator=generator).numpy() for _ in range(1000)]  # fmt: skip
    q00 = np.array([q[0, 0] for q in draws])
    dets = np.array([np.linalg.det(q) for q in draws])
    assert abs(q00.mean()) < 6 * math.sqrt(0.5 / q00.size)
    assert (q00**2).mean() == pytest.approx(0.5, abs=0.05)
    assert abs((dets > 0).mean() - 0.5) < 0.1
    again = nn.init.orthogonal_(plugrad.empty(2, 2, dtype=plugrad.float64, device=device),
                                generator=plugrad.Generator().manual_seed(3)).numpy()  # fmt: skip
    np.testing.assert_array_equal(again, draws[0])


def test_orthogonal_errors_and_empty():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(plugrad.empty(4))
    empty = plugrad.empty(0, 3)
    assert nn.init.orthogonal_(empty) is empty
