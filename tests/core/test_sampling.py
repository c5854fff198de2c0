"""Random draws (plugrad.api.sampling): the same numbers on every backend for one seed, the
distributions' moments against their closed forms, multinomial's frequencies and rules, and
normal's gradients in mean and std."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

HOSTS = ("numpy_ref", "c_cpu")


def _draws(device: str) -> list[np.ndarray]:
    plugrad.manual_seed(123)
    x = plugrad.empty(4, 5, dtype="float64", device=device)
    out = [x.uniform_(-2.0, 3.0).numpy().copy(), x.normal_(1.0, 2.0).numpy().copy(),
           x.exponential_(0.5).numpy().copy(), x.bernoulli_(0.25).numpy().copy()]  # fmt: skip
    w = plugrad.tensor([[0.0, 1.0, 3.0, 0.5], [2.0, 2.0, 0.0, 1.0]], dtype="float64",
                       device=device)  # fmt: skip
    out.append(plugrad.multinomial(w, 3).numpy())
    out.append(w.multinomial(7, replacement=True).numpy())
    mean = plugrad.zeros(3, dtype="float64", device=device)
    out.append(plugrad.normal(mean, 2.0).numpy())
    return out


def test_one_seed_gives_the_same_draws_on_every_backend():
    first, second = (_draws(d) for d in HOSTS)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-14)  # normal: libm log/cos within ulps


@pytest.mark.parametrize("device", HOSTS)
def test_moments(device):
    plugrad.manual_seed(7)
    x = plugrad.empty(200_000, dtype="float64", device=device)
    u = x.uniform_(2.0, 5.0).numpy()
    assert u.min() >= 2.0 and u.max() < 5.0 and abs(u.mean() - 3.5) < 0.01
    n = x.normal_(-1.0, 3.0).numpy()
    assert abs(n.mean() + 1.0) < 0.03 and abs(n.std() - 3.0) < 0.03
    e = x.exponential_(4.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.003 and abs(e.std() - 0.25) < 0.003
    b = x.bernoulli_(0.3).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.005
    p = plugrad.full((1000,), 0.8, dtype="float64", device=device)
    assert abs(x[:1000].bernoulli_(p).numpy().mean() - 0.8) < 0.05


@pytest.mark.parametrize("device", HOSTS)
def test_multinomial_frequencies_and_rules(device):
    plugrad.manual_seed(3)
    w = plugrad.tensor([1.0, 0.0, 3.0, 4.0], dtype="float64", device=device)
    drawn = w.multinomial(40_000, replacement=True).numpy()
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 40_000, [1 / 8, 0, 3 / 8, 1 / 2],
                               atol=0.01)  # fmt: skip
    rows = plugrad.tensor([[1.0, 0.0, 3.0, 4.0]] * 3000, dtype="float64", device=device)
    firsts = plugrad.multinomial(rows, 3).numpy()
    assert all(len(set(r)) == 3 and 1 not in r for r in firsts)  # distinct, never weight 0
    first = np.bincount(firsts[:, 0], minlength=4) / 3000
    np.testing.assert_allclose(first, [1 / 8, 0, 3 / 8, 1 / 2], atol=0.03)
    with pytest.raises(ValueError, match="without replacement"):
        w.multinomial(4)
    with pytest.raises(ValueError, match="non-negative"):
        plugrad.tensor([1.0, -1.0], device=device).multinomial(1)
    with pytest.raises(ValueError, match="positive weight"):
        plugrad.zeros(2, 3, device=device).multinomial(1)


@pytest.mark.parametrize("device", HOSTS)
def test_normal_forms_and_gradients(device):
    mean = plugrad.tensor([0.0, 10.0], dtype="float64", device=device, requires_grad=True)
    std = plugrad.tensor([[1.0], [2.0]], dtype="float64", device=device, requires_grad=True)
    plugrad.manual_seed(5)
    out = plugrad.normal(mean, std)
    assert out.shape == (2, 2)
    out.sum().backward()
    np.testing.assert_array_equal(mean.grad.numpy(), [2.0, 2.0])
    z = (out.detach() - mean.detach()) / std.detach()
    np.testing.assert_allclose(std.grad.numpy(), z.sum(1, keepdim=True).numpy(), rtol=1e-12)
    assert plugrad.normal(1.0, 2.0, (3, 4), device=device).shape == (3, 4)
    with pytest.raises(TypeError, match="size="):
        plugrad.normal(0.0, 1.0)


def test_inplace_draws_follow_the_inplace_rules():
    leaf = plugrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.normal_()
    with plugrad.no_grad():
        leaf.uniform_()
    assert leaf.requires_grad and bool((leaf > 0).any())
    with pytest.raises(TypeError, match="floating"):
        plugrad.zeros(3, dtype="int64").normal_()
    with pytest.raises(ValueError, match="from_ <= to"):
        plugrad.zeros(3).uniform_(2.0, 1.0)
