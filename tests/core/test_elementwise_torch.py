"""Elementwise gradients at the edges of their domain against torch, on every installed device:
the same values, nan and inf included."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

EXPONENTS = [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("base", [-2.0, -1, -0.5, -0.0, 0, 0.0, 0.5, 1, 2.0, math.e])
@pytest.mark.parametrize("dtype", [plugrad.float32, plugrad.float64], ids=lambda d: d.name)
def test_python_base_to_a_tensor_power_matches_torch(device, base, dtype):
    """c ** x for a Python number c: d/dx = c**x * log(c), nan for c < 0; for c == 0, 0 where
    x >= 0 and -inf (times the sign of c**x) where x < 0, as torch computes it."""
    x = plugrad.tensor(EXPONENTS, dtype=dtype, device=device, requires_grad=True)
    upstream = plugrad.tensor(np.linspace(0.5, 1.5, len(EXPONENTS)), dtype=dtype, device=device)
    y = base**x
    y.backward(upstream)

    tx = torch.tensor(EXPONENTS, dtype=getattr(torch, dtype.name), requires_grad=True)
    ty = base**tx
    ty.backward(torch.from_numpy(upstream.numpy().copy()))

    tol = 1e-6 if dtype is plugrad.float64 else 1e-5
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, equal_nan=True)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, equal_nan=True)
