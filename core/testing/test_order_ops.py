"""The order, scan, selection and scatter ops (built on the `sort` and `scan` kernels) on each
backend against NumPy, on views of every kind, plus float64 finite-difference gradient checks
of the differentiable ones (second order for some). Run:
`pytest --pyargs plugrad.testing --backend NAME`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plugrad
from plugrad.testing.gradcheck import gradcheck
from plugrad.testing.helpers import need
from plugrad.testing.strategies import NUMERIC, NUMPY_DTYPES
from plugrad.testing.test_ops import VIEWS, as_view, close, host

ORDER_SETTINGS = settings(max_examples=10, deadline=None, database=None, derandomize=True)


def _values(shape, dtype: str, seed: int, ties: bool = False) -> np.ndarray:
    """Uniform values, or with `ties` small integers (0..4 for uint8, -2..2 otherwise)."""
    rng = np.random.default_rng(seed)
    np_dtype = NUMPY_DTYPES[dtype]
    if ties:
        low = 0 if dtype == "uint8" else -2
        return rng.integers(low, low + 5, size=shape).astype(np_dtype)
    return rng.uniform(-3.0, 3.0, size=shape).astype(np_dtype)


def _stable_order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    wide = x.astype(np.float64)  # exact for the values drawn here, in every dtype
    if descending:  # -x keeps ties in order, so a stable argsort of -x sorts downwards
        return np.argsort(-wide, axis=axis, kind="stable")
    return np.argsort(wide, axis=axis, kind="stable")


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("dtype", NUMERIC)
@ORDER_SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16), descending=st.booleans())  # fmt: skip
def test_sort_family_matches_numpy(device, view, dtype, shape, seed, descending):
    need(device.backend, dtype)
    x = _values(shape, dtype, seed, ties=True)
    t = as_view(x, view, device)
    axis = seed % len(shape)
    order = _stable_order(x, axis, descending)
    result = t.sort(axis, descending)
    np.testing.assert_array_equal(host(result.indices), order)
    np.testing.assert_array_equal(host(result.values), np.take_along_axis(x, order, axis))
    np.testing.assert_array_equal(host(t.argsort(axis, descending)), order)
    k = 1 + seed % shape[axis]
    top = t.topk(k, axis)
    expected = np.take_along_axis(x, _stable_order(x, axis, True), axis)
    np.testing.assert_array_equal(
        host(top.values), np.moveaxis(np.moveaxis(expected, axis, 0)[:k], 0, axis)
    )
    kth = t.kthvalue(k, axis)
    np.testing.assert_array_equal(host(kth.values), np.moveaxis(np.sort(x, axis), axis, 0)[k - 1])
    lower_median = np.moveaxis(np.sort(x, axis), axis, 0)[(shape[axis] - 1) // 2]
    np.testing.assert_array_equal(host(t.median(axis).values), lower_median)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_numpy(device, view, interpolation):
    x = _values((4, 7), "float64", 3)
    q = np.array([0.0, 0.2, 0.5, 0.75, 1.0])
    t = as_view(x, view, device)
    got = t.quantile(plugrad.tensor(q, dtype=plugrad.float64, device=device), 1,
                     interpolation=interpolation)  # fmt: skip
    close(got, np.quantile(x, q, axis=1, method=interpolation), plugrad.float64)


SCANS = {
    "cumsum": (lambda t, d: t.cumsum(d), lambda x, d: np.cumsum(x, d), "any"),
    "cumprod": (lambda t, d: t.cumprod(d), lambda x, d: np.cumprod(x, d), "near-one"),
    "cummax": (lambda t, d: t.cummax(d).values, lambda x, d: np.maximum.accumulate(x, d), "any"),
    "cummin": (lambda t, d: t.cummin(d).values, lambda x, d: np.minimum.accumulate(x, d), "any"),
    "logcumsumexp": (lambda t, d: t.logcumsumexp(d), lambda x, d: np.logaddexp.accumulate(x, d),
                     "any"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCANS))
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("dtype", [plugrad.float32, plugrad.float64])
@ORDER_SETTINGS
@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_scans_match_numpy(device, name, view, dtype, shape, seed):
    ours, numpy_scan, kind = SCANS[name]
    x = _values(shape, "float64", seed)
    if kind == "near-one":
        x = 1.0 + x / 6.0
    axis = seed % len(shape)
    got = ours(as_view(x.astype(dtype.name), view, device), axis)
    close(got, numpy_scan(x.astype(dtype.name).astype(np.float64), axis), dtype, scale=10)


def test_selection_by_value_matches_numpy(device):
    x = np.array([[3.0, 0.0, 1.0, 3.0], [0.0, -2.0, 1.0, 5.0]])
    t = as_view(x, "transposed", device)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    got = t.unique(return_inverse=True, return_counts=True)
    for a, b in zip(got, (values, inverse.reshape(x.shape), counts)):
        np.testing.assert_array_equal(host(a), b)
    np.testing.assert_array_equal(host(t.nonzero()), np.argwhere(x))
    np.testing.assert_array_equal(host(t.masked_select(t > 0.5)), x[x > 0.5])
    seq = np.array([-1.0, 0.0, 0.0, 2.0, 4.0])
    for side in ("left", "right"):
        got = plugrad.searchsorted(as_view(seq, "flipped", device), t, side=side)
        np.testing.assert_array_equal(host(got), np.searchsorted(seq, x, side=side))
    counts = plugrad.tensor([0, 3, 3, 1, 7], device=device).bincount(minlength=9)
    np.testing.assert_array_equal(host(counts), np.bincount([0, 3, 3, 1, 7], minlength=9))


def test_index_and_scatter_ops_match_numpy(device):
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = as_view(x, "strided", device)
    index = plugrad.tensor([[3, 0, 3], [1, 1, 2], [0, 2, 0]], device=device)
    np.testing.assert_array_equal(host(t.index_select(1, plugrad.tensor([2, 0], device=device))),
                                  x[:, [2, 0]])  # fmt: skip
    np.testing.assert_array_equal(host(t.take(plugrad.tensor([-1, 5], device=device))), [11.0, 5.0])
    np.testing.assert_array_equal(host(t.take_along_dim(index, 1)),
                                  np.take_along_axis(x, host(index), 1))  # fmt: skip
    src = -np.arange(9, dtype=np.float64).reshape(3, 3) - 1
    expected_sum, expected_max, expected_write = x.copy(), x.copy(), x.copy()
    for i in range(3):
        for j in range(3):
            target = host(index)[i, j]
            expected_sum[i, target] += src[i, j]
            expected_max[i, target] = max(expected_max[i, target], src[i, j])
            expected_write[i, target] = src[i, j]  # the last write wins
    s = plugrad.tensor(src, device=device)
    np.testing.assert_array_equal(host(t.scatter(1, index, s)), expected_write)
    np.testing.assert_array_equal(host(t.scatter_reduce(1, index, s, "sum")), expected_sum)
    np.testing.assert_array_equal(host(t.scatter_reduce(1, index, s, "amax")), expected_max)
    copied = x.copy()
    copied[:, [3, 1]] = src[:, :2]
    got = t.index_copy(1, plugrad.tensor([3, 1], device=device), s[:, :2])
    np.testing.assert_array_equal(host(got), copied)


def _index(device, values):
    return plugrad.tensor(values, device=device)


def _q(like, values):
    return plugrad.tensor(values, dtype=like.dtype, device=like.device)


GRADIENTS = {
    "sort": (lambda a: a.sort(1, descending=True).values * a, [(3, 4)]),
    "topk_kthvalue": (lambda a: a.topk(2, 0).values.sum() + a.kthvalue(2, 1).values, [(3, 4)]),
    "median": (lambda a: a.median(0).values * a.median(), [(5, 3)]),
    "quantile": (lambda a: a.quantile(_q(a, [0.3, 0.5]), 1), [(3, 6)]),
    "cumsum": (lambda a: a.cumsum(0) * a.cumsum(1), [(3, 4)]),
    "cumprod": (lambda a: a.cumprod(1), [(3, 5)]),
    "cummax_cummin": (lambda a: a.cummax(1).values + a.cummin(0).values, [(3, 4)]),
    "logcumsumexp": (lambda a: a.logcumsumexp(1), [(3, 4)]),
    "norms": (lambda a: a.norm() + plugrad.vector_norm(a, 3, 1).sum()
              + plugrad.vector_norm(a, 0.5) + plugrad.matrix_norm(a, 1), [(3, 4)]),
    "nan_reductions": (lambda a: a.nanmean(1) + a.nansum(0).sum(), [(3, 4)]),
    "masked_select": (lambda a: a.masked_select(a.detach() > 0) ** 2, [(3, 4)]),
    "index_select_take": (lambda a: a.index_select(1, _index(a.device, [2, 0, 2])).sum(0)
                          + a.take(_index(a.device, [-1, 3, 3])), [(3, 4)]),
    "take_along_dim": (lambda a: a.take_along_dim(_index(a.device, [[1, 0], [3, 3], [0, 2]]), 1),
                       [(3, 4)]),
    "index_copy": (lambda a, b: a.index_copy(0, _index(a.device, [2, 0]), b), [(3, 4), (2, 4)]),
    # (unique targets: an overwritten write gets g as in torch, though it changes nothing)
    "scatter": (lambda a, b: a.scatter(1, _index(a.device, [[1, 3], [0, 2]]), b), [(2, 4), (2, 2)]),
    "scatter_reduce": (
        lambda a, b: a.scatter_reduce(1, _index(a.device, [[1, 1, 0], [3, 0, 3]]), b, "sum")
        + a.scatter_reduce(1, _index(a.device, [[1, 1, 0], [3, 0, 3]]), b, "mean")
        + a.scatter_reduce(1, _index(a.device, [[1, 1, 0], [3, 0, 3]]), b, "prod"),
        [(2, 4), (2, 3)],
    ),
    "scatter_reduce_extremes": (
        lambda a, b: a.scatter_reduce(1, _index(a.device, [[2, 1, 2], [3, 0, 3]]), b, "amax",
                                      include_self=False)
        + a.scatter_reduce(1, _index(a.device, [[2, 1, 2], [3, 0, 3]]), b, "amin"),
        [(2, 4), (2, 3)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_order_and_scatter_gradients_match_finite_differences(device, name):
    fn, shapes_ = GRADIENTS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    inputs = [rng.permutation(int(np.prod(s))).reshape(s) * 0.3 - 1.1 for s in shapes_]  # no ties
    gradcheck(fn, *inputs, device=device)


@pytest.mark.parametrize("name", ["cumprod", "logcumsumexp", "norms", "scatter_reduce", "quantile"])
def test_second_order_order_gradients_match_finite_differences(device, name):
    fn, shapes_ = GRADIENTS[name]
    rng = np.random.default_rng(2)
    inputs = [rng.permutation(int(np.prod(s))).reshape(s) * 0.3 - 1.1 for s in shapes_]
    out_shape = fn(*[plugrad.tensor(a, dtype=plugrad.float64, device=device) for a in inputs]).shape
    v = rng.standard_normal(size=out_shape)

    def first_grad(*xs):
        weights = plugrad.tensor(v, dtype=plugrad.float64, device=device)
        return plugrad.grad((fn(*xs) * weights).sum(), xs[0], create_graph=True)[0]

    gradcheck(first_grad, *inputs, device=device, atol=1e-4, rtol=1e-3)


def test_cumprod_gradient_with_zeros_matches_finite_differences(device):
    gradcheck(lambda a: a.cumprod(1), np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, -2.0, 0.0]]),
              device=device)  # fmt: skip
