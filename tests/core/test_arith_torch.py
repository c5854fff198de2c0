"""The arithmetic and math family (plugrad.api.arith, ops/composite.py) against torch on every
device: values and float64 gradients over each function's domain, integer semantics of //, %
and fmod, edge values (0, +-inf, NaN, ties) and the in-place and operator forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch_oracle import compare

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def uniform(shape, low, high, seed=0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# (name, plugrad/torch function of the module and tensors, input ranges)
WIDE, UNIT, POSITIVE = (-3.0, 3.0), (-0.95, 0.95), (0.2, 4.0)
UNARY = [
    ("log1p", (-0.9, 3.0)), ("expm1", WIDE), ("log2", POSITIVE), ("log10", POSITIVE),
    ("exp2", WIDE), ("rsqrt", POSITIVE), ("reciprocal", POSITIVE), ("square", WIDE),
    ("frac", WIDE), ("sign", WIDE), ("atan", (-8.0, 8.0)), ("asin", UNIT), ("acos", UNIT),
    ("sinh", WIDE), ("cosh", WIDE), ("asinh", (-8.0, 8.0)), ("acosh", (1.05, 8.0)),
    ("atanh", UNIT), ("trunc", WIDE), ("round", WIDE),
]  # fmt: skip


@pytest.mark.parametrize(("name", "domain"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_and_gradients(device, name, domain):
    x = uniform((3, 5), *domain, seed=len(name))
    compare(torch, device, lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    compare(torch, device, lambda t: getattr(plugrad, name)(t),
            lambda t: getattr(torch, name)(t), [x])  # fmt: skip


@pytest.mark.parametrize("name", ["log1p", "expm1", "sinh", "asinh", "atanh", "atan", "asin"])
def test_tiny_arguments_keep_full_relative_precision(device, name):
    x = np.array([1e-300, -3e-17, 1e-10, -2.5e-8, 1e-5])
    got = getattr(plugrad.tensor(x, dtype="float64", device=device), name)().numpy()
    expected = getattr(torch, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=4e-16, atol=0)


@pytest.mark.parametrize("name", ["atan", "asinh", "sinh", "cosh", "expm1", "log1p", "acosh"])
def test_edge_values(device, name):
    x = np.array([0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 1e200, -1e200, 700.0])
    with np.errstate(all="ignore"):
        expected = getattr(torch, name)(torch.tensor(x)).numpy()
    got = getattr(plugrad.tensor(x, dtype="float64", device=device), name)().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-13, equal_nan=True)


def test_float32_and_integer_inputs(device):
    x = uniform((4, 3), -0.9, 0.9, seed=3)
    compare(torch, device, lambda t: t.atan().asin(), lambda t: t.atan().asin(), [x],
            dtype="float32")  # fmt: skip
    ints = np.array([1, 2, 8, 1000])
    for name in ("log2", "log10", "exp2", "reciprocal", "atan", "log1p"):
        got = getattr(plugrad.tensor(ints, device=device), name)()
        expected = getattr(torch, name)(torch.tensor(ints))
        assert got.dtype is plugrad.float32
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp"])
def test_binary_values_and_gradients(device, name):
    a, b = uniform((3, 4), -3, 3, seed=1), uniform((4,), -3, 3, seed=2)
    compare(torch, device, lambda x, y: getattr(plugrad, name)(x, y),
            lambda x, y: getattr(torch, name)(x, y), [a, b])  # fmt: skip
    compare(torch, device, lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y),
            [a, b])  # fmt: skip


def test_binary_edge_values(device):
    inf, nan = math.inf, math.nan
    a = np.array([0.0, 0.0, -0.0, inf, -inf, inf, 1.0, -1.0, nan, 1e300, -inf, 3.0])
    b = np.array([0.0, -1.0, 1.0, inf, -inf, -inf, -inf, -0.5, 1.0, 1e300, 2.0, -inf])
    x, y = (plugrad.tensor(v, dtype="float64", device=device) for v in (a, b))
    tx, ty = torch.tensor(a), torch.tensor(b)
    for name in ("atan2", "hypot", "logaddexp"):
        np.testing.assert_allclose(getattr(plugrad, name)(x, y).numpy(),
                                   getattr(torch, name)(tx, ty).numpy(), rtol=1e-14,
                                   equal_nan=True, err_msg=name)  # fmt: skip


def test_method_forms_with_alpha_and_rounding_mode(device):
    a, b = uniform((2, 3), -3, 3, seed=4), uniform((2, 3), 0.5, 3, seed=5)
    for ours, theirs in [
        (lambda x, y: x.add(y, alpha=2.5), lambda x, y: x.add(y, alpha=2.5)),
        (lambda x, y: plugrad.sub(x, y, alpha=-0.5), lambda x, y: torch.sub(x, y, alpha=-0.5)),
        (lambda x, y: x.mul(y), lambda x, y: x.mul(y)),
        (lambda x, y: x.div(y), lambda x, y: x.div(y)),
        (lambda x, y: plugrad.div(x, y, rounding_mode="trunc"),
         lambda x, y: torch.div(x, y, rounding_mode="trunc")),
        (lambda x, y: x.div(y, rounding_mode="floor"),
         lambda x, y: x.div(y, rounding_mode="floor")),
        (lambda x, y: plugrad.pow(y, x), lambda x, y: torch.pow(y, x)),
        (lambda x, y: plugrad.matmul(x, y.mT), lambda x, y: torch.matmul(x, y.mT)),
        (lambda x, y: x.lerp(y, 0.3), lambda x, y: x.lerp(y, 0.3)),
        (lambda x, y: plugrad.lerp(x, y, y), lambda x, y: torch.lerp(x, y, y)),
        (lambda x, y: x.addcmul(x, y, value=0.5), lambda x, y: x.addcmul(x, y, value=0.5)),
        (lambda x, y: plugrad.addcdiv(x, x, y, value=-2),
         lambda x, y: torch.addcdiv(x, x, y, value=-2)),
        (lambda x, y: x.clamp_min(0.1) + x.clamp_max(-0.2),
         lambda x, y: x.clamp_min(0.1) + x.clamp_max(-0.2)),
        (lambda x, y: x.remainder(y) + plugrad.fmod(x, y),
         lambda x, y: x.remainder(y) + torch.fmod(x, y)),
        (lambda x, y: (x % 1.5) - x.fmod(-0.7), lambda x, y: (x % 1.5) - x.fmod(-0.7)),
    ]:  # fmt: skip
        compare(torch, device, ours, theirs, [a, b])


def test_float_floor_division_and_reflected_forms(device):
    a, b = uniform((5,), -3, 3, seed=5), uniform((5,), -3, 3, seed=6)
    x, y = (plugrad.tensor(v, dtype="float64", device=device) for v in (a, b))
    tx, ty = torch.tensor(a), torch.tensor(b)
    for ours, theirs in [(2.5 % y, 2.5 % ty), (2.5 // y, 2.5 // ty), (x // y, tx // ty),
                         (x.floor_divide(y), tx.floor_divide(ty))]:  # fmt: skip
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_integer_division_and_remainder_follow_python(device):
    a = np.array([7, -7, 7, -7, 0, 9, -(2**40) + 3])
    b = np.array([2, 2, -2, -2, 3, 3, 7])
    x, y = plugrad.tensor(a, device=device), plugrad.tensor(b, device=device)
    tx, ty = torch.tensor(a), torch.tensor(b)
    for ours, theirs in [
        (x // y, tx // ty), (x % y, tx % ty), (x.fmod(y), tx.fmod(ty)),
        (x // 3, tx // 3), (x % -3, tx % -3), (100 // y, 100 // ty), (100 % y, 100 % ty),
        (x.div(y, rounding_mode="trunc"), tx.div(ty, rounding_mode="trunc")),
        (x.floor_divide(y), tx.floor_divide(ty)), (x.remainder(y), tx.remainder(ty)),
    ]:  # fmt: skip
        assert ours.dtype is plugrad.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        x // plugrad.tensor([0] * 7, device=device)
    with pytest.raises(ZeroDivisionError):
        x % 0


def test_round_ties_to_even_and_decimals(device):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49999999999999994, 2.0**53 + 2, -3.7, 1234.5678])
    t = plugrad.tensor(x, dtype="float64", device=device)
    np.testing.assert_array_equal(t.round().numpy(), torch.tensor(x).round().numpy())
    for decimals in (1, 2, -1, -2):
        np.testing.assert_allclose(
            t.round(decimals=decimals).numpy(),
            torch.tensor(x).round(decimals=decimals).numpy(),
            rtol=1e-15,
        )
    assert plugrad.round(plugrad.tensor([3, -4], device=device)).tolist() == [3, -4]
    with pytest.raises(TypeError, match="decimals must be an int"):
        t.round(decimals=1.5)


def test_nan_inf_tests_and_nan_to_num(device):
    x = np.array([1.0, math.nan, math.inf, -math.inf, -0.0, 1e308])
    t, tt = plugrad.tensor(x, dtype="float64", device=device), torch.tensor(x)
    for name in ("isnan", "isinf", "isfinite"):
        np.testing.assert_array_equal(getattr(t, name)().numpy(), getattr(tt, name)().numpy())
        np.testing.assert_array_equal(
            getattr(plugrad, name)(t).numpy(), getattr(torch, name)(tt).numpy()
        )
    assert not plugrad.isinf(plugrad.tensor([1, 2], device=device)).any()
    for kwargs in ({}, {"nan": 2.0, "posinf": 10.0}, {"neginf": -5.0}):
        np.testing.assert_array_equal(
            t.nan_to_num(**kwargs).numpy(), tt.nan_to_num(**kwargs).numpy()
        )
    compare(torch, device, lambda v: v.nan_to_num(), lambda v: v.nan_to_num(), [x])
    for dtype in ("float32",):
        np.testing.assert_array_equal(t.to(dtype).nan_to_num().numpy(),
                                      tt.float().nan_to_num().numpy())  # fmt: skip


def test_isclose_allclose_equal(device):
    a = np.array([1.0, 1.0 + 1e-9, math.inf, math.nan, 1.0, -math.inf])
    b = np.array([1.0, 1.0, math.inf, math.nan, 1.1, math.inf])
    x, y = (plugrad.tensor(v, dtype="float64", device=device) for v in (a, b))
    tx, ty = torch.tensor(a), torch.tensor(b)
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.0, "rtol": 0.0}):
        np.testing.assert_array_equal(
            x.isclose(y, **kwargs).numpy(), tx.isclose(ty, **kwargs).numpy()
        )
        assert plugrad.allclose(x[:3], y[:3], **kwargs) == torch.allclose(tx[:3], ty[:3], **kwargs)
        assert x.allclose(y, **kwargs) == tx.allclose(ty, **kwargs)
    assert plugrad.equal(x[:1], y[:1]) and x[2:3].equal(y[2:3]) and not x.equal(y)
    with pytest.raises(ValueError, match="non-negative"):
        x.isclose(y, rtol=-1.0)


def test_inplace_forms_record_gradients(device):
    a = uniform((2, 3), 0.2, 0.9, seed=7)

    def ours(x):
        y = x * 1.0
        y.log1p_().atan_().clamp_min_(0.1)
        y.addcmul_(x, x, value=0.5).lerp_(x, 0.25).hypot_(x)
        return y + x.sinh().expm1_()

    def theirs(x):
        y = x * 1.0
        y.log1p_().atan_().clamp_min_(0.1)
        y.addcmul_(x, x, value=0.5).lerp_(x, 0.25).hypot_(x)
        return y + x.sinh().expm1_()

    compare(torch, device, ours, theirs, [a])
    t = plugrad.tensor([5, -5], device=device)
    t %= 3
    t //= 2
    assert t.tolist() == [1, 0]


def test_softplus_matches_torch(device):
    x = uniform((3, 4), -30, 30, seed=9)
    compare(torch, device, lambda v: plugrad.nn.functional.softplus(v, beta=2.0, threshold=10.0),
            lambda v: torch.nn.functional.softplus(v, beta=2.0, threshold=10.0), [x])  # fmt: skip
