"""The activations of issue 12 against torch on identical inputs, on every installed device:
values and gradients (float64 within 1e-6, float32 within 1e-4), the edges where a branch
or a saturation starts, in-place forms, and second derivatives by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_torch import assert_close, compare_module, make, to_torch

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

PAIRS = {
    "leaky_relu": lambda: (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    "leaky_relu_0.2": lambda: (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    "elu": lambda: (nn.ELU(), torch.nn.ELU()),
    "elu_alpha": lambda: (nn.ELU(alpha=0.7), torch.nn.ELU(alpha=0.7)),
    "selu": lambda: (nn.SELU(), torch.nn.SELU()),
    "silu": lambda: (nn.SiLU(), torch.nn.SiLU()),
    "mish": lambda: (nn.Mish(), torch.nn.Mish()),
    "softplus": lambda: (nn.Softplus(), torch.nn.Softplus()),
    "softplus_beta_threshold": lambda: (nn.Softplus(2.0, 5.0), torch.nn.Softplus(2.0, 5.0)),
    "hardtanh": lambda: (nn.Hardtanh(), torch.nn.Hardtanh()),
    "hardtanh_range": lambda: (nn.Hardtanh(-0.5, 2.0), torch.nn.Hardtanh(-0.5, 2.0)),
    "relu6": lambda: (nn.ReLU6(), torch.nn.ReLU6()),
    "hardswish": lambda: (nn.Hardswish(), torch.nn.Hardswish()),
    "prelu_shared": lambda: (nn.PReLU(), torch.nn.PReLU()),
    "prelu_per_channel": lambda: (nn.PReLU(4, init=0.1), torch.nn.PReLU(4, init=0.1)),
}

# Where branches meet, where torch switches formulas, and values that overflow exp.
EDGES = [-100.0, -30.0, -20.5, -3.0, -1.0, -1e-5, 0.0, 1e-5, 1.0, 3.0, 2.5, 5.0, 19.9, 20.0,
         20.1, 30.0, 100.0]  # fmt: skip


def prelu_weights(ours):
    if isinstance(ours, nn.PReLU):  # distinct slopes, so the per-channel gradient is visible
        with plugrad.no_grad():
            ours.weight.copy_(plugrad.linspace(0.05, 0.5, ours.num_parameters))


@pytest.mark.parametrize("name", list(PAIRS))
def test_activation_modules(device, dtype, name):
    ours, theirs = PAIRS[name]()
    ours.to(device, dtype)
    prelu_weights(ours)
    compare_module(ours, theirs, [make((3, 4, 5), device, dtype, scale=3.0)], device, dtype)


@pytest.mark.parametrize("name", list(PAIRS))
def test_activation_edges(device, dtype, name):
    ours, theirs = PAIRS[name]()
    ours.to(device, dtype)
    prelu_weights(ours)
    x = plugrad.tensor(np.array(EDGES).reshape(1, -1), dtype=dtype, device=device)
    if name == "prelu_per_channel":
        x = plugrad.tensor(np.array(EDGES[:16]).reshape(4, 4), dtype=dtype, device=device)
    compare_module(ours, theirs, [x], device, dtype)


def test_prelu_on_images_and_unbatched(device, dtype):
    ours = nn.PReLU(3, device=device, dtype=dtype)
    prelu_weights(ours)
    compare_module(ours, torch.nn.PReLU(3), [make((2, 3, 4, 4), device, dtype)], device, dtype)
    shared = nn.PReLU(device=device, dtype=dtype)
    compare_module(shared, torch.nn.PReLU(), [make((7,), device, dtype)], device, dtype)
    with pytest.raises(ValueError, match="one per channel"):
        ours(make((2, 5), device, dtype))


FUNCTIONAL = {
    "leaky_relu": (lambda f, x: f.leaky_relu(x, 0.3)),
    "elu": (lambda f, x: f.elu(x, alpha=1.5)),
    "selu": (lambda f, x: f.selu(x)),
    "silu": (lambda f, x: f.silu(x)),
    "mish": (lambda f, x: f.mish(x)),
    "softplus": (lambda f, x: f.softplus(x, beta=0.5, threshold=3.0)),
    "hardtanh": (lambda f, x: f.hardtanh(x, -2.0, 0.5)),
    "relu6": (lambda f, x: f.relu6(x)),
    "hardswish": (lambda f, x: f.hardswish(x)),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_forms_and_inplace(device, dtype, name):
    """F.name(x) matches torch; with inplace=True it writes into its (non-leaf) input, which
    torch also does, and the gradient through the in-place write still matches."""
    fn = FUNCTIONAL[name]
    x = make((4, 6), device, dtype, scale=4.0).requires_grad_()
    tx = to_torch(x).requires_grad_()
    assert_close(fn(F, x), fn(torch.nn.functional, tx), dtype)
    if name == "softplus":
        return  # torch's softplus has no inplace form
    kwargs_fn = {
        "leaky_relu": lambda f, a: f.leaky_relu(a, 0.3, inplace=True),
        "elu": lambda f, a: f.elu(a, 1.5, inplace=True),
        "hardtanh": lambda f, a: f.hardtanh(a, -2.0, 0.5, inplace=True),
    }.get(name, lambda f, a: getattr(f, name)(a, inplace=True))
    a, ta = x * 1.0, tx * 1.0
    out, tout = kwargs_fn(F, a), kwargs_fn(torch.nn.functional, ta)
    assert out is a
    assert_close(a, ta, dtype)
    upstream = make(out.shape, device, dtype, seed=3)
    (out * upstream).sum().backward()
    (tout * to_torch(upstream)).sum().backward()
    assert_close(x.grad, tx.grad, dtype)


@pytest.mark.parametrize("name", list(FUNCTIONAL) + ["prelu"])
def test_second_derivatives_match_finite_differences(device, name):
    """Composites of differentiable ops: gradients of gradients come out right too (away from
    the kinks, where a second derivative does not exist)."""
    rng = np.random.default_rng(4)
    values = rng.uniform(0.2, 2.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    x = plugrad.tensor(values, dtype=plugrad.float64, device=device, requires_grad=True)
    if name == "prelu":
        w = plugrad.tensor([0.1, 0.2, 0.3], dtype=plugrad.float64, device=device)
        w.requires_grad_()
        x3 = plugrad.tensor(values.reshape(1, 3, 4), dtype=plugrad.float64, device=device)
        x3.requires_grad_()
        assert plugrad.autograd.gradgradcheck(F.prelu, (x3, w))
        return
    fn = FUNCTIONAL[name]
    assert plugrad.autograd.gradgradcheck(lambda t: fn(F, t), (x,))


def test_activation_errors_and_reprs():
    with pytest.raises(ValueError, match="min_val < max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="positive integer"):
        nn.PReLU(0)
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
