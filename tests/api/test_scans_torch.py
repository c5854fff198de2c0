"""cumsum, cumprod, cummax, cummin and logcumsumexp against torch on every device: values,
indices, float64 gradients (cumprod with zeros, cummax ties and NaN, logcumsumexp at
infinities and with gradients of both signs), dtypes, 0-d inputs and the in-place forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from select_oracle import compare, method, torch

import plugrad

DTYPES = ["float32", "float64"]
NAN, INF = math.nan, math.inf


def uniform(*shape, seed=0, low=-2.0, high=2.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_scans_along_every_dim(device, dtype, name, dim):
    x = uniform(3, 4, 5, seed=dim + 1, low=0.5 if name == "cumprod" else -2.0)
    compare(
        lambda t: getattr(t, name)(dim),
        lambda t: getattr(t, name)(dim),
        [x],
        device,
        dtype,
        scale=10,
    )
    compare(
        lambda t: getattr(plugrad, name)(t, dim=dim),
        lambda t: getattr(torch, name)(t, dim),
        [x],
        device,
        dtype,
        scale=10,
    )


@pytest.mark.parametrize(
    "row",
    [
        [2.0, 0.0, 3.0, 4.0],
        [0.0, 2.0, 3.0, 0.5],
        [2.0, 3.0, 0.0, 0.0, 4.0],
        [0.0, 0.0, 1.5],
        [1.5, -2.0, 0.5, 3.0],
        [0.0],
    ],
    ids=["one-zero", "leading-zero", "two-zeros", "two-leading", "no-zero", "only-zero"],
)
def test_cumprod_gradient_is_exact_with_zeros(device, row):
    x = np.array([row, row[::-1]])
    compare(lambda t: t.cumprod(1), lambda t: t.cumprod(1), [x], device)


def test_cumprod_second_derivative_matches_torch(device):
    x = np.array([[2.0, 0.0, 3.0, -1.5], [1.5, 2.0, -0.5, 3.0]])
    v = np.random.default_rng(3).normal(size=x.shape)

    def second(lib, t):
        tv = lib.tensor(v, dtype=t.dtype, device=t.device)
        (g,) = lib.autograd.grad((t.cumprod(1) * tv).sum(), t, create_graph=True)
        return g * g

    compare(lambda t: second(plugrad, t), lambda t: second(torch, t), [x], device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_ties_and_nan(device, dtype, name):
    x = np.array(
        [
            [1.0, 3.0, 3.0, 2.0, 3.0, NAN, 5.0, NAN, 1.0],
            [2.0, 2.0, 1.0, 1.0, 4.0, 4.0, -1.0, -1.0, 0.0],
        ]
    )
    compare(lambda t: getattr(t, name)(1), lambda t: getattr(t, name)(1), [x], device, dtype)
    y = np.random.default_rng(0).integers(-2, 3, size=(5, 4)).astype(np.float64)
    compare(
        lambda t: getattr(plugrad, name)(t, 0),
        lambda t: getattr(torch, name)(t, 0),
        [y],
        device,
        dtype,
    )


def test_cummax_result_is_named(device):
    result = plugrad.tensor([1.0, 3.0, 2.0], device=device).cummax(0)
    assert type(result) is plugrad.return_types.cummax
    assert result.values.tolist() == [1.0, 3.0, 3.0] and result.indices.tolist() == [0, 1, 1]


def test_logcumsumexp_at_infinities_and_far_apart_values(device):
    x = np.array(
        [
            [-1000.0, 0.0, 1000.0, -INF],
            [-INF, -INF, 2.0, 1.0],
            [INF, 1.0, -INF, 3.0],
            [700.0, 710.0, -700.0, 0.0],
        ]
    )
    compare(lambda t: t.logcumsumexp(1), lambda t: t.logcumsumexp(1), [x], device, grad=False)
    finite = np.array([[-30.0, 0.0, 25.0, -5.0], [700.0, 710.0, -700.0, 0.0]])
    compare(lambda t: t.logcumsumexp(1), lambda t: t.logcumsumexp(1), [finite], device)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
def test_integer_and_bool_scans(device, dtype, name):
    x = (
        np.random.default_rng(2)
        .integers(0 if dtype == "bool" else -3, 2 if dtype == "bool" else 4, size=(3, 5))
        .astype(dtype)
    )
    got = getattr(plugrad.tensor(x, device=device), name)(1)
    want = getattr(torch.tensor(x), name)(1)
    for a, b in zip(
        got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]
    ):
        assert a.numpy().dtype == b.numpy().dtype, (name, a.numpy().dtype, b.numpy().dtype)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cumsum_dtype_argument(device):
    x = np.array([[1, 2, 3]])
    for dtype in ("float32", "float64"):
        got = plugrad.tensor(x, device=device).cumsum(1, dtype=getattr(plugrad, dtype))
        want = torch.tensor(x).cumsum(1, dtype=getattr(torch, dtype))
        assert got.dtype.name == dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert (
        plugrad.tensor([1.0, 2.0], device=device).cumprod(0, dtype="float64").dtype.name
        == "float64"
    )


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"])
def test_scans_of_0d_and_empty(device, name):
    for x in (np.array(1.5), np.zeros((0, 3)), np.zeros((2, 0))):
        for dim in (0, -1) if x.ndim == 0 else (0, 1):
            compare(method(name, dim), method(name, dim), [x], device)


def test_in_place_cumsum_and_cumprod_are_recorded(device):
    x = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 2.0]])

    def chain(t):
        y = t * 1.0
        y.cumsum_(1)
        y.cumprod_(0)
        return y

    compare(chain, chain, [x], device)


def test_scans_refuse_bad_dims_and_integer_logcumsumexp(device):
    x = plugrad.tensor([[1.0, 2.0]], device=device)
    with pytest.raises(IndexError):
        x.cumsum(2)
    with pytest.raises(TypeError, match="dim"):
        x.cumsum(0.5)
    with pytest.raises(TypeError, match="floating"):
        plugrad.tensor([1, 2], device=device).logcumsumexp(0)


def test_an_input_written_in_place_after_the_op_is_caught_where_the_gradient_reads_it(device):
    """cumprod's gradient reads its input: a later in-place write makes backward refuse.
    cumsum's and sort's read no values (sort keeps the positions): theirs stay right."""
    x = plugrad.tensor([[1.0, 2.0, 3.0]], dtype=plugrad.float64, device=device, requires_grad=True)
    y = x * 1.0
    product = y.cumprod(1)
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        product.sum().backward()
    z = x * 1.0
    total = z.cumsum(1).sum() + (z.sort(1, descending=True).values * 2.0).sum()
    z.add_(1.0)
    total.backward()
    assert x.grad.tolist() == [[5.0, 4.0, 3.0]]
