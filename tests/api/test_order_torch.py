"""sort, argsort, topk, kthvalue, median and quantile against torch on every device: values
(float32, float64), indices, and float64 gradients; NaN and ties where torch defines them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from select_oracle import compare, torch

import plugrad

DTYPES = ["float32", "float64"]
NAN = math.nan


def distinct(*shape, seed=0) -> np.ndarray:
    """Values without ties (torch leaves the order of ties to its implementation)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.25 - 2.0


def ties(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_with_ties_is_torchs_stable_sort(device, dtype, dim, descending):
    x = ties(4, 6, seed=dim + 3)
    compare(
        lambda t: t.sort(dim, descending),
        lambda t: t.sort(dim=dim, descending=descending, stable=True),
        [x],
        device,
        dtype,
    )
    compare(
        lambda t: plugrad.argsort(t, dim, descending),
        lambda t: torch.argsort(t, dim=dim, descending=descending, stable=True),
        [x],
        device,
        dtype,
        grad=False,
    )


@pytest.mark.parametrize("descending", [False, True])
def test_sort_puts_nan_last_ascending_and_first_descending(device, descending):
    x = np.array([[3.0, NAN, 1.0, -0.0, 0.0, -math.inf, NAN, 2.0, math.inf]])
    compare(
        lambda t: t.sort(1, descending=descending),
        lambda t: t.sort(dim=1, descending=descending, stable=True),
        [x],
        device,
    )


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_sort_of_integers_and_bools(device, dtype):
    x = np.random.default_rng(1).integers(0, 2 if dtype == "bool" else 5, size=(3, 7))
    x = x.astype(dtype)
    for descending in (False, True):
        got = plugrad.tensor(x, device=device).sort(-1, descending)
        want = torch.tensor(x).sort(dim=-1, descending=descending, stable=True)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


def test_sort_results_are_named_and_unpack(device):
    x = plugrad.tensor([[2.0, 1.0]], device=device)
    result = x.sort()
    values, indices = result
    assert result.values is values and result.indices is indices
    assert type(result) is plugrad.return_types.sort
    assert repr(result).startswith("sort(values=tensor(")
    assert plugrad.sort(x, dim=0).values.tolist() == [[2.0, 1.0]]


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1,)])
def test_sort_of_0d_and_empty(device, shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    compare(lambda t: t.sort(0), lambda t: t.sort(0), [x], device)
    compare(lambda t: t.argsort(0), lambda t: t.argsort(0), [x], device, grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_topk(device, dtype, largest, k):
    x = distinct(3, 5, seed=k)
    compare(
        lambda t: t.topk(k, largest=largest),
        lambda t: t.topk(k, largest=largest),
        [x],
        device,
        dtype,
    )
    compare(
        lambda t: plugrad.topk(t, k, 0, largest) if k <= 3 else t.topk(1, 0),
        lambda t: torch.topk(t, k, 0, largest) if k <= 3 else t.topk(1, 0),
        [x],
        device,
        dtype,
    )


def test_topk_unsorted_gives_the_same_set(device):
    x = distinct(2, 6)
    got = plugrad.tensor(x, device=device).topk(3, sorted=False)
    want = torch.tensor(x).topk(3, sorted=False)
    np.testing.assert_array_equal(np.sort(got.values.numpy(), -1), np.sort(want.values.numpy(), -1))


def test_topk_counts_nan_as_largest(device):
    x = np.array([1.0, NAN, 3.0, 2.0])
    compare(lambda t: t.topk(2), lambda t: t.topk(2), [x], device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_kthvalue(device, dtype, keepdim, k):
    x = distinct(3, 4, seed=k)
    compare(
        lambda t: t.kthvalue(k, 1, keepdim), lambda t: t.kthvalue(k, 1, keepdim), [x], device, dtype
    )
    compare(
        lambda t: plugrad.kthvalue(t, 2, 0), lambda t: torch.kthvalue(t, 2, 0), [x], device, dtype
    )


def test_kthvalue_and_topk_refuse_k_out_of_range(device):
    x = plugrad.tensor([1.0, 2.0], device=device)
    for k in (0, 3):
        with pytest.raises(IndexError, match="k"):
            x.kthvalue(k)
    with pytest.raises(IndexError, match="k"):
        x.topk(3)
    with pytest.raises(TypeError, match="k"):
        x.topk(1.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_median_along_a_dim(device, dtype, keepdim, dim):
    x = distinct(5, 4, seed=dim)
    compare(lambda t: t.median(dim, keepdim), lambda t: t.median(dim, keepdim), [x], device, dtype)


def test_median_of_a_row_with_nan_is_nan_at_its_first_nan(device):
    x = np.array([[3.0, 1.0, NAN, 2.0], [1.0, 2.0, 3.0, 4.0], [NAN, 5.0, NAN, 1.0]])
    compare(lambda t: t.median(1), lambda t: t.median(1), [x], device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0, 2.0, 3.0],
        [4.0, 1.0, 3.0, 2.0],
        [2.0, NAN, 1.0, NAN],
        [5.0],
        [[1.0, 1.0], [1.0, 2.0]],
    ],
    ids=["ties", "even", "nan", "one", "2d"],
)
def test_median_of_everything_shares_the_gradient_among_ties(device, dtype, values):
    compare(lambda t: t.median(), lambda t: t.median(), [np.array(values)], device, dtype)


def test_median_of_integers_and_of_nothing(device):
    x = np.array([[4, 1, 3], [2, 9, 9]])
    got, want = plugrad.tensor(x, device=device), torch.tensor(x)
    assert got.median().item() == want.median().item()
    np.testing.assert_array_equal(got.median(0).values.numpy(), want.median(0).values.numpy())
    assert math.isnan(plugrad.tensor([], device=device).median().item())


INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize(
    "q, dim, keepdim",
    [
        (0.3, None, False),
        (0.5, 1, False),
        (0.5, 0, True),
        ([0.0, 0.25, 0.5, 1.0], 1, True),
        ([0.1, 0.9], None, True),
        ([1 / 6, 0.5], -1, False),
    ],
)
def test_quantile(device, dtype, interpolation, q, dim, keepdim):
    x = distinct(3, 5, seed=7)

    def quantiles(t, lib):
        qs = q if isinstance(q, float) else lib.tensor(q, dtype=t.dtype, device=t.device)
        return lib.quantile(t, qs, dim, keepdim, interpolation=interpolation)

    compare(lambda t: quantiles(t, plugrad), lambda t: quantiles(t, torch), [x], device, dtype)


def test_quantile_of_a_row_with_nan_is_nan(device):
    x = np.array([[1.0, NAN, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    compare(lambda t: t.quantile(0.5, 1), lambda t: t.quantile(0.5, 1), [x], device, grad=False)


def test_quantile_refuses_what_torch_refuses(device):
    x = plugrad.tensor([1.0, 2.0], device=device)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        x.quantile(1.5)
    with pytest.raises(ValueError, match="interpolation"):
        x.quantile(0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="floating"):
        plugrad.tensor([1, 2], device=device).quantile(0.5)
    with pytest.raises(TypeError, match="dtype"):
        x.quantile(plugrad.tensor([0.5], dtype=plugrad.float64, device=device))
    with pytest.raises(RuntimeError, match="non-empty"):
        plugrad.tensor([], device=device).quantile(0.5)
