"""Signed zeros and infinities of the elementwise functions against torch on every device:
asin, asinh, atan, round and sign at -0 (and round of (-0.5, 0)), atan2 over every pair of
zeros, infinities and finite values of both signs, remainder and fmod with infinite and zero
operands (values, sign bits, NaN positions, the in-place forms) and their gradients."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from select_oracle import torch

import plugrad

INF, NAN = math.inf, math.nan
SPECIAL = [0.0, -0.0, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0, 4.0, -4.0, -7.25,
           1e20, -1e20, INF, -INF, NAN]  # fmt: skip
TOLERANCE = {"float32": 3e-6, "float64": 1e-13}


def same_values(got: list, want: list, rtol: float) -> None:
    """Equal to rtol, with the same sign bits (so -0 against +0 fails) and the same NaNs."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    ok = np.isnan(want) | np.isclose(got, want, rtol=rtol, atol=0)
    assert ok.all(), (got[~ok], want[~ok])
    signs = np.isnan(want) | (np.signbit(got) == np.signbit(want))
    assert signs.all(), (got[~signs], want[~signs])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["asin", "asinh", "atan", "acos", "round", "sign", "trunc"])
def test_unary_signed_zeros_and_infinities(device, dtype, name):
    got = getattr(plugrad, name)(plugrad.tensor(SPECIAL, dtype=dtype, device=device))
    want = getattr(torch, name)(torch.tensor(SPECIAL, dtype=getattr(torch, dtype))).tolist()
    if name == "sign":  # torch.sign(nan) is 0; plugrad keeps NaN, as NumPy and the standard
        assert math.isnan(got.tolist()[-1])
        want[-1] = NAN
    same_values(got.tolist(), want, TOLERANCE[dtype])


def _pairs() -> tuple[list, list]:
    a, b = zip(*itertools.product(SPECIAL, SPECIAL))
    return list(a), list(b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["atan2", "remainder", "fmod"])
def test_binary_signed_zeros_and_infinities(device, dtype, name):
    """atan2(-0, +0) = -0, atan2(+0, -0) = pi, atan2(-1, inf) = -0; 3 % -inf = -inf,
    -3 % inf = inf, 3 % inf = 3; a zero remainder has the dividend's sign (torch's)."""
    a, b = _pairs()
    t = getattr(torch, dtype)
    got = getattr(plugrad, name)(
        plugrad.tensor(a, dtype=dtype, device=device), plugrad.tensor(b, dtype=dtype, device=device)
    )
    want = getattr(torch, name)(torch.tensor(a, dtype=t), torch.tensor(b, dtype=t))
    if name != "atan2":  # a - floor(a / b) * b is not exact where |a / b| is huge (1e20 / 0.25)
        keep = [i for i, (x, y) in enumerate(zip(a, b)) if not abs(x / y if y else 0) > 1e6]
        got, want = [got.tolist()[i] for i in keep], [want.tolist()[i] for i in keep]
    else:
        got, want = got.tolist(), want.tolist()
    same_values(got, want, TOLERANCE[dtype])


def test_remainder_in_place_operator_and_scalars(device):
    a = [0.0, -0.0, 3.0, -3.0, 3.0, -3.0, 4.0, -4.0]
    b = [-2.0, 2.0, INF, INF, -INF, -INF, -2.0, 2.0]
    x = plugrad.tensor(a, dtype="float64", device=device)
    x %= plugrad.tensor(b, dtype="float64", device=device)
    tx = torch.tensor(a, dtype=torch.float64)
    tx %= torch.tensor(b, dtype=torch.float64)
    same_values(x.tolist(), tx.tolist(), 0)
    y = plugrad.tensor(a, device=device)
    y.remainder_(-INF)
    same_values(y.tolist(), torch.tensor(a).remainder_(-INF).tolist(), 0)
    same_values((7.5 % plugrad.tensor([2.0, -2.0, INF], device=device)).tolist(),
                (7.5 % torch.tensor([2.0, -2.0, INF])).tolist(), 0)  # fmt: skip
    ints = plugrad.remainder(plugrad.tensor([5, -5], device=device), 3.0)
    want = torch.remainder(torch.tensor([5, -5]), 3.0)
    assert ints.dtype is plugrad.float32 and ints.tolist() == want.tolist()


@pytest.mark.parametrize("name", ["remainder", "fmod"])
def test_remainder_gradients(device, name):
    a, b = [[5.0], [-5.0], [7.5]], [3.0, -2.0, 0.75]
    x = plugrad.tensor(a, dtype="float32", device=device, requires_grad=True)
    y = plugrad.tensor(b, dtype="float64", device=device, requires_grad=True)
    tx = torch.tensor(a, dtype=torch.float32, requires_grad=True)
    ty = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    out, tout = getattr(plugrad, name)(x, y), getattr(torch, name)(tx, ty)
    assert out.dtype is plugrad.float64
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    assert x.grad.dtype is plugrad.float32
    np.testing.assert_allclose(x.grad.tolist(), tx.grad.tolist(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.tolist(), ty.grad.tolist(), rtol=1e-12)
