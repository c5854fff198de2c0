"""Every differentiable op against NumPy on each backend, on views of every kind, plus float64
finite-difference gradient checks. Run: `pytest --pyargs plugrad.testing --backend NAME`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import plugrad
from plugrad.testing.gradcheck import gradcheck
from plugrad.testing.helpers import ATOL, RTOL

SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True)
VIEWS = ("compact", "transposed", "flipped", "offset", "strided")
_erf = np.vectorize(math.erf, otypes=[np.float64])


def tolerance(dtype: object) -> dict:
    """The kernels' tolerance (helpers.RTOL / ATOL); an op composes several kernels, so its
    relative tolerance is at least 1e-10 (float64's single kernel has 1e-12)."""
    name = plugrad.dtypes.as_dtype(dtype).name
    return {"rtol": max(RTOL[name], 1e-10), "atol": ATOL[name]}


def as_view(values: np.ndarray, kind: str, device: object, dtype: object = None) -> plugrad.Tensor:
    """A tensor equal to `values` whose memory layout is `kind`: a non-compact view."""
    if kind == "transposed" and values.ndim >= 2:
        return plugrad.tensor(np.ascontiguousarray(values.T), dtype=dtype, device=device).T
    if kind == "flipped" and values.ndim >= 1:
        return plugrad.tensor(values[::-1].copy(), dtype=dtype, device=device).flip(0)
    if kind == "offset":
        padded = np.concatenate([np.zeros(3, values.dtype), values.reshape(-1)])
        flat = plugrad.tensor(padded, dtype=dtype, device=device)[3:]
        return flat.reshape(values.shape)
    if kind == "strided" and values.ndim >= 1:
        wide = np.repeat(values, 2, axis=-1)
        return plugrad.tensor(wide, dtype=dtype, device=device)[..., ::2]
    return plugrad.tensor(values, dtype=dtype, device=device)


def host(t: plugrad.Tensor) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def close(got: plugrad.Tensor, want: np.ndarray, dtype: object, scale: float = 1.0) -> None:
    tol = tolerance(dtype)
    np.testing.assert_allclose(host(got), want, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale)
    assert got.shape == tuple(np.shape(want)), (got.shape, np.shape(want))


shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
float_dtypes = st.sampled_from(["float32", "float64"])
views = st.sampled_from(VIEWS)


def values_for(shape: tuple[int, ...], dtype: str, seed: int, low: float = -3.0, high: float = 3.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


# --- elementwise ----------------------------------------------------------------------------
UNARY = {
    "neg": (lambda t: -t, np.negative, (-3, 3)),
    "exp": (lambda t: t.exp(), np.exp, (-3, 3)),
    "log": (lambda t: t.log(), np.log, (0.1, 3)),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, (0.1, 3)),
    "abs": (lambda t: t.abs(), np.abs, (-3, 3)),
    "tanh": (lambda t: t.tanh(), np.tanh, (-3, 3)),
    "sigmoid": (lambda t: t.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), (-3, 3)),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0), (-3, 3)),
    "gelu": (lambda t: t.gelu(), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), (-3, 3)),
    "gelu_tanh": (
        lambda t: t.gelu(approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
        (-3, 3),
    ),
    "clamp": (lambda t: t.clamp(-0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0), (-3, 3)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, dtype=float_dtypes, view=views, seed=st.integers(0, 2**16))
def test_unary(device, name, shape, dtype, view, seed):
    ours, theirs, (low, high) = UNARY[name]
    x = values_for(shape, dtype, seed, low, high)
    close(ours(as_view(x, view, device)), theirs(x.astype(np.float64)).astype(dtype), dtype, 10)


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a**b, np.power),
    "maximum": (lambda a, b: plugrad.maximum(a, b), np.maximum),
    "minimum": (lambda a, b: plugrad.minimum(a, b), np.minimum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    dtype=float_dtypes, views=st.tuples(views, views), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_binary_broadcasting(device, name, shapes, dtype, views, seed):
    ours, theirs = BINARY[name]
    sa, sb = shapes.input_shapes
    low = 0.5 if name in ("pow", "div") else -3.0
    a, b = values_for(sa, dtype, seed, low), values_for(sb, dtype, seed + 1, low)
    got = ours(as_view(a, views[0], device), as_view(b, views[1], device))
    close(got, theirs(a, b), dtype, 10)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("scalar", [2, 0.5, -1.5])
def test_scalar_operands_both_orders(device, name, scalar):
    ours, theirs = BINARY[name]
    x = values_for((3, 4), "float32", 1, 0.5, 2.0)
    t = as_view(x, "transposed", device)
    if name == "pow" and scalar < 0:
        scalar = 3
    close(ours(t, scalar), theirs(x, np.float32(scalar)), "float32", 10)
    close(ours(scalar, t), theirs(np.float32(scalar), x), "float32", 10)


def test_integer_arithmetic_and_promotion(device):
    a = np.arange(-4, 8).reshape(3, 4)
    t = plugrad.tensor(a, device=device)
    assert t.dtype == plugrad.int64
    np.testing.assert_array_equal(host(t + 3), a + 3)
    np.testing.assert_array_equal(host(t * t), a * a)
    np.testing.assert_array_equal(host(t**2), a**2)
    assert (t / 2).dtype == plugrad.float32  # true division, as torch
    np.testing.assert_allclose(host(t / 2), a / 2)
    assert (t + 0.5).dtype == plugrad.float32
    assert (t + plugrad.ones(3, 4, dtype=plugrad.float64, device=device)).dtype == plugrad.float64
    np.testing.assert_array_equal(host(t > 2), a > 2)
    np.testing.assert_array_equal(host((t > 0) & (t < 5)), (a > 0) & (a < 5))


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
    seed=st.integers(0, 2**16),
)
def test_where(device, shapes, seed):
    sc, sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    c = rng.random(sc) > 0.5
    a, b = values_for(sa, "float64", seed), values_for(sb, "float64", seed + 1)
    got = plugrad.where(plugrad.tensor(c, device=device), as_view(a, "flipped", device),
                        plugrad.tensor(b, device=device))  # fmt: skip
    close(got, np.where(c, a, b), "float64")


# --- matmul ---------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((1, 1), (1, 1)), ((0, 3), (3, 2)),
    ((2, 0), (0, 3)), ((7, 33, 17), (7, 17, 9)),
]  # fmt: skip


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("view", VIEWS)
def test_matmul(device, shapes, dtype, view):
    a, b = values_for(shapes[0], dtype, 0), values_for(shapes[1], dtype, 1)
    got = as_view(a, view, device) @ as_view(b, "transposed", device)
    close(got, np.matmul(a, b), dtype, scale=100)


# --- reductions -----------------------------------------------------------------------------
@st.composite
def shape_and_axes(draw, min_side=0):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=min_side, max_side=5))
    if not shape:
        return shape, None
    axes = draw(st.one_of(st.none(), st.lists(st.integers(0, len(shape) - 1), unique=True,
                                               min_size=1, max_size=len(shape))))  # fmt: skip
    return shape, None if axes is None else tuple(axes)


REDUCTIONS = {
    "sum": (lambda t, ax, k: t.sum(ax, keepdim=k), lambda x, ax, k: x.sum(ax, keepdims=k), 0),
    "mean": (lambda t, ax, k: t.mean(ax, keepdim=k), lambda x, ax, k: x.mean(ax, keepdims=k), 1),
    "var": (lambda t, ax, k: t.var(ax, keepdim=k),
            lambda x, ax, k: x.var(ax, keepdims=k, ddof=1), 2),  # fmt: skip
    "amax": (lambda t, ax, k: t.amax(ax, keepdim=k), lambda x, ax, k: x.max(ax, keepdims=k), 1),
    "amin": (lambda t, ax, k: t.amin(ax, keepdim=k), lambda x, ax, k: x.min(ax, keepdims=k), 1),
    "logsumexp": (
        lambda t, ax, k: t.logsumexp(ax, keepdim=k),
        lambda x, ax, k: np.log(np.exp(x).sum(ax, keepdims=k)), 1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(case=shape_and_axes(min_side=1), dtype=float_dtypes, view=views, keep=st.booleans(),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_reductions(device, name, case, dtype, view, keep, seed):
    shape, axes = case
    ours, theirs, min_count = REDUCTIONS[name]
    x = values_for(shape, dtype, seed)
    count = np.prod([shape[a] for a in axes]) if axes is not None else np.prod(shape)
    if count < min_count:
        return
    want = theirs(x.astype(np.float64), axes, keep)
    close(ours(as_view(x, view, device), axes, keep), np.asarray(want, dtype=dtype), dtype, 100)


def test_sum_of_empty_and_max_of_empty(device):
    x = plugrad.zeros(0, 3, device=device)
    np.testing.assert_array_equal(host(x.sum(0)), np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        x.amax(0)


def test_max_min_with_dim_return_values_and_indices(device):
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, -1.0]])
    t = plugrad.tensor(x, device=device)
    values, indices = t.max(1)
    np.testing.assert_array_equal(host(values), [5.0, 7.0])
    np.testing.assert_array_equal(host(indices), [1, 0])  # first of the tied maxima
    assert t.min(dim=0).indices.tolist() == [0, 1, 1]
    assert t.argmax().item() == 3


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_is_stable(device, log, dtype):
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0], [0.0, 0.0, 0.0]])
    t = plugrad.tensor(x, dtype=dtype, device=device)
    shifted = x - x.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    got = t.log_softmax(-1) if log else t.softmax(-1)
    close(got, (logp if log else np.exp(logp)).astype(dtype), dtype, 10)
    assert np.isfinite(host(t.logsumexp(-1))).all()


# --- shapes and indexing ---------------------------------------------------------------------
@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), view=views, seed=st.integers(0, 99)
)
def test_view_ops(device, shape, view, seed):
    x = values_for(shape, "float64", seed)
    t = as_view(x, view, device)
    close(t.reshape(-1), x.reshape(-1), "float64")
    close(t.permute(tuple(reversed(range(x.ndim)))), x.transpose(), "float64")
    close(t.T, x.T, "float64")
    close(t.transpose(0, -1), np.swapaxes(x, 0, -1), "float64")
    close(t.unsqueeze(1).squeeze(1), x, "float64")
    close(t.flip(0), x[::-1], "float64")
    close(t.flip(None), np.flip(x), "float64")
    close(t.expand(2, *shape), np.broadcast_to(x, (2, *shape)), "float64")
    close(t.flatten(), x.reshape(-1), "float64")
    close(t[..., ::-2], x[..., ::-2], "float64")
    close(t[None, ..., 0], x[None, ..., 0], "float64") if shape[-1] else None


BASIC_KEYS = [
    (1,), (slice(None, None, -1),), (Ellipsis, 1), (slice(1, None, 2), None, -1),
    (0, 1, 2), (slice(-2, None), Ellipsis, slice(None, 2)), (None,), (),
]  # fmt: skip
ADVANCED_KEYS = [
    ([0, 2, 1],), (slice(None), [1, 0]), ([0, 1], slice(None), [1, 3]),
    (Ellipsis, [3, -1, 0]), (1, slice(None), [0, 2]), ("mask",), ("mask0",),
    ([[0, 2], [1, 1]], slice(1, 3)),
]  # fmt: skip


def _resolve(key, x):
    if key == ("mask",):
        return (x > 0,)
    if key == ("mask0",):
        return (x[:, 0, 0] > 0,)
    return key


@pytest.mark.parametrize("key", BASIC_KEYS + ADVANCED_KEYS, ids=str)
@pytest.mark.parametrize("view", VIEWS)
def test_getitem_matches_numpy(device, key, view):
    x = values_for((3, 3, 4), "float64", 7)
    key = _resolve(key, x)
    tkey = tuple(plugrad.tensor(k, device=device) if isinstance(k, np.ndarray) else k for k in key)
    close(as_view(x, view, device)[tkey], x[key], "float64")


def test_setitem_matches_numpy(device):
    x = values_for((4, 5), "float64", 3)
    t = plugrad.tensor(x, device=device)
    expected = x.copy()
    t[1] = 0.5
    expected[1] = 0.5
    t[:, ::2] = plugrad.tensor(np.arange(3.0), device=device)
    expected[:, ::2] = np.arange(3.0)
    t[t > 1.0] = -1.0
    expected[expected > 1.0] = -1.0
    t[[0, 3], [1, 2]] = plugrad.tensor([9.0, 8.0], device=device)
    expected[[0, 3], [1, 2]] = [9.0, 8.0]
    close(t, expected, "float64")


def test_index_errors(device):
    t = plugrad.zeros(3, 4, device=device)
    with pytest.raises(IndexError, match="out of bounds"):
        t[3]
    with pytest.raises(IndexError, match="out of bounds"):
        t[:, [0, 4]]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    for bad in (1.5, (0, 2.0), "a", ([0, 1], 1.0)):
        with pytest.raises(IndexError, match="valid indices"):
            t[bad]
    with pytest.raises(IndexError, match="valid indices"):
        t[0.0] = 1.0


def test_cat_stack_split_chunk_pad(device):
    a, b = values_for((2, 3), "float64", 1), values_for((2, 5), "float64", 2)
    ta, tb = as_view(a, "transposed", device), plugrad.tensor(b, device=device)
    close(plugrad.cat([ta, tb], 1), np.concatenate([a, b], 1), "float64")
    close(plugrad.stack([ta, ta], dim=1), np.stack([a, a], 1), "float64")
    parts = tb.split(2, dim=1)
    for got, want in zip(parts, np.split(b, [2, 4], axis=1)):
        close(got, want, "float64")
    for got, want in zip(tb.split([1, 4], dim=1), np.split(b, [1], axis=1)):
        close(got, want, "float64")
    for got, want in zip(tb.chunk(3, dim=1), np.array_split(b, [2, 4], axis=1)):
        close(got, want, "float64")
    close(plugrad.pad(ta, (1, 2)), np.pad(a, ((0, 0), (1, 2))), "float64")
    close(plugrad.pad(ta, (1, 0, 0, 2), value=3.0), np.pad(a, ((0, 2), (1, 0)), constant_values=3),
          "float64")  # fmt: skip
    with pytest.raises(ValueError, match="differ"):
        plugrad.cat([ta, plugrad.zeros(3, 3, dtype=plugrad.float64, device=device)], 1)


def test_gather_and_one_hot(device):
    x = values_for((3, 4), "float64", 5)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    got = plugrad.tensor(x, device=device).gather(1, plugrad.tensor(idx, device=device))
    close(got, np.take_along_axis(x, idx, 1), "float64")
    oh = plugrad.one_hot(plugrad.tensor([2, 0, 1], device=device), 4)
    np.testing.assert_array_equal(host(oh), np.eye(4, dtype=np.int64)[[2, 0, 1]])


# --- convolution ----------------------------------------------------------------------------
def conv2d_reference(x, w, stride, padding, dilation, groups):
    """Direct loops over output positions (independent of any backend's lowering)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                r, s = i * stride[0], j * stride[1]
                patch = xp[:, g * cg : (g + 1) * cg,
                           r : r + dilation[0] * (kh - 1) + 1 : dilation[0],
                           s : s + dilation[1] * (kw - 1) + 1 : dilation[1]]  # fmt: skip
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    return out


CONV_CASES = [
    dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 1), groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=2),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d(device, case, dtype):
    x = values_for((2, 4, 7, 6), dtype, 1)
    w = values_for((6, 4 // case["groups"], 3, 2), dtype, 2)
    got = plugrad.conv2d(plugrad.tensor(x, device=device), plugrad.tensor(w, device=device), **case)
    want = conv2d_reference(x.astype(np.float64), w.astype(np.float64), **case)
    close(got, want.astype(dtype), dtype, scale=100)


def test_conv2d_bad_shapes(device):
    x = plugrad.zeros(1, 3, 5, 5, device=device)
    with pytest.raises(ValueError, match="channels"):
        plugrad.conv2d(x, plugrad.zeros(2, 4, 3, 3, device=device))
    with pytest.raises(ValueError, match="too small"):
        plugrad.conv2d(x, plugrad.zeros(2, 3, 7, 7, device=device))


# --- factories ------------------------------------------------------------------------------
def test_factories(device):
    assert plugrad.zeros(2, 3, device=device).device == device
    np.testing.assert_array_equal(host(plugrad.ones((2, 3), dtype="int64", device=device)),
                                  np.ones((2, 3), np.int64))  # fmt: skip
    np.testing.assert_array_equal(host(plugrad.full((2,), 7.5, device=device)), [7.5, 7.5])
    np.testing.assert_array_equal(host(plugrad.arange(5, device=device)), np.arange(5))
    np.testing.assert_allclose(host(plugrad.arange(0.0, 1.0, 0.25, device=device)),
                               np.arange(0, 1, 0.25))  # fmt: skip
    np.testing.assert_allclose(host(plugrad.linspace(0, 1, 5, device=device)), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(host(plugrad.eye(3, 4, device=device)), np.eye(3, 4))
    like = plugrad.zeros(2, 2, dtype=plugrad.float64, device=device)
    assert plugrad.ones_like(like).dtype == plugrad.float64
    assert plugrad.randn_like(like).shape == (2, 2)
    assert plugrad.rand(3, device=device).dtype == plugrad.float32
    assert plugrad.randint(0, 5, (100,), device=device).dtype == plugrad.int64


def test_random_is_seeded_and_well_distributed(device):
    plugrad.manual_seed(123)
    a = host(plugrad.randn(20000, dtype=plugrad.float64, device=device))
    u = host(plugrad.rand(20000, dtype=plugrad.float64, device=device))
    r = host(plugrad.randint(3, 7, (20000,), device=device))
    plugrad.manual_seed(123)
    np.testing.assert_array_equal(
        a, host(plugrad.randn(20000, dtype=plugrad.float64, device=device))
    )
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    assert set(np.unique(r)) == {3, 4, 5, 6}


# --- gradients ------------------------------------------------------------------------------
GRAD_CASES = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)]),
    "sub": (lambda a, b: a - b, [(2, 1), (1, 3)]),
    "mul": (lambda a, b: a * b, [(2, 3), (2, 3)]),
    "div": (lambda a, b: a / (b * b + 1.0), [(2, 3), (3,)]),
    "pow": (lambda a, b: (a * a + 0.5) ** b, [(2, 3), (2, 3)]),
    "scalar_ops": (lambda a: (2.0 - a) * 3.0 / 4.0 + 1.0 / (a * a + 1.0) + 2.0**a, [(4,)]),
    "pow_scalar": (lambda a: (a * a + 0.1) ** 1.5, [(3,)]),
    "neg_exp": (lambda a: (-a).exp(), [(2, 2)]),
    "log_sqrt": (lambda a: (a * a + 1.0).log() + (a * a + 1.0).sqrt(), [(3,)]),
    "abs": (lambda a: (a + 0.05).abs(), [(5,)]),
    "tanh_sigmoid": (lambda a: a.tanh() + a.sigmoid(), [(2, 3)]),
    "relu": (lambda a: (a + 0.05).relu(), [(5,)]),
    "gelu": (lambda a: a.gelu() + a.gelu(approximate="tanh"), [(5,)]),
    "maximum_minimum": (
        lambda a, b: plugrad.maximum(a, b) + plugrad.minimum(a, b * 2.0),
        [(3, 2), (2,)],
    ),  # fmt: skip
    "clamp": (lambda a: a.clamp(-0.4, 0.5) + a.clamp(min=0.1), [(6,)]),
    "where": (lambda a, b: plugrad.where(a > 0, a * b, b), [(2, 3), (2, 3)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_vec": (lambda a, b: (a @ b) * (b @ b), [(3, 4), (4,)]),
    "sum_mean": (lambda a: a.sum(0) + a.mean((0, 1), keepdim=True).sum(), [(3, 4)]),
    "var": (lambda a: a.var(1) + a.var(), [(3, 4)]),
    "max_min": (lambda a: a.amax(1) + a.amin(0).sum() + a.max(), [(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), [(3, 4)]),
    "prod": (lambda a: a.prod(1) + a.prod(), [(3, 4)]),
    "softmax": (lambda a: a.softmax(-1) * a.log_softmax(0), [(3, 4)]),
    "reshape_permute": (lambda a: a.reshape(2, 6).T.permute(1, 0).reshape(3, 4) * a, [(3, 4)]),
    "expand_squeeze": (lambda a: a.unsqueeze(0).expand(2, 3, 1).squeeze(-1), [(3, 1)]),
    "getitem_basic": (lambda a: a[1:, ::-2] * a[0, None, 1:3], [(3, 4)]),
    "getitem_advanced": (lambda a: a[[0, 2, 0], 1:] + a[a.detach() > 0].sum(), [(3, 4)]),
    "cat_stack": (
        lambda a, b: plugrad.cat([a, b], 0) * plugrad.stack([a, b]).sum(0).sum(),
        [(2, 3), (2, 3)],
    ),  # fmt: skip
    "split_chunk": (lambda a: a.split(1, 1)[1] * a.chunk(2, 0)[0].sum(), [(4, 3)]),
    "flip_pad": (lambda a: plugrad.pad(a.flip(1), (1, 2, 0, 1), value=1.0), [(2, 3)]),
    "conv2d": (
        lambda x, w: plugrad.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)),
        [(2, 2, 5, 5), (3, 2, 3, 2)],
    ),  # fmt: skip
    "conv2d_groups": (
        lambda x, w: plugrad.conv2d(x, w, padding=1, groups=2),
        [(1, 4, 4, 4), (4, 2, 3, 3)],
    ),  # fmt: skip
    "gather": (lambda a: a.gather(1, plugrad.tensor([[0, 0], [2, 1]], device=a.device)), [(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_finite_differences(device, name):
    fn, shapes_ = GRAD_CASES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    inputs = [rng.uniform(-1.0, 1.0, size=s) for s in shapes_]
    gradcheck(fn, *inputs, device=device)


def test_prod_gradient_with_zeros(device):
    x = plugrad.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [-1.0, 4.0, 2.0]],
                       dtype=plugrad.float64, device=device, requires_grad=True)  # fmt: skip
    x.prod(1).sum().backward()
    want = [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, -2.0, -4.0]]
    np.testing.assert_allclose(host(x.grad), want)


def test_second_derivative_of_cube(device):
    x = plugrad.tensor([-1.5, 0.5, 2.0], dtype=plugrad.float64, device=device, requires_grad=True)
    (g,) = plugrad.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(host(g), 3 * host(x) ** 2)
    (gg,) = plugrad.grad(g.sum(), x)
    np.testing.assert_allclose(host(gg), 6 * host(x))


@pytest.mark.parametrize("name", ["tanh_sigmoid", "softmax", "matmul", "conv2d", "logsumexp"])
def test_second_order_gradients_match_finite_differences(device, name):
    """The gradient of the gradient: differentiate x -> d/dx sum(f(x) * v) numerically."""
    fn, shapes_ = GRAD_CASES[name]
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(-1.0, 1.0, size=s) for s in shapes_]
    v = rng.standard_normal(size=np.shape(fn(*[plugrad.tensor(a, device=device) for a in inputs])))

    def first_grad(*xs):
        weights = plugrad.tensor(v, dtype=plugrad.float64, device=device)
        grads = plugrad.grad((fn(*xs) * weights).sum(), xs[0], create_graph=True)
        return grads[0]

    gradcheck(first_grad, *inputs, device=device, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_place_updates_write_over_their_operand(device, dtype):
    """The protocol lets `out` of an elementwise kernel be an operand's own memory."""
    x, y = values_for((5, 6), dtype, 3), values_for((6,), dtype, 4)
    t = plugrad.tensor(x, device=device)
    t.add_(plugrad.tensor(y, device=device))  # broadcast operand
    t.mul_(2.0)
    t.sub_(as_view(x, "transposed", device).T.T, alpha=0.5)  # strided operand
    t.div_(plugrad.tensor(y, device=device) + 10.0)
    close(t, (((x + y) * 2.0) - x * 0.5) / (y + 10.0), dtype, 10)
    s = as_view(x, "flipped", device)  # a non-compact target goes through a temporary
    s.add_(1.0)
    close(s, x + 1.0, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_batched_matmul_with_broadcast_transposed_operand(device, dtype):
    """Big enough for a threaded backend to split the batch (a past heap-corruption case)."""
    a = values_for((8, 32, 64), dtype, 1)
    w = values_for((256, 64), dtype, 2)
    got = plugrad.tensor(a, device=device) @ plugrad.tensor(w, device=device).transpose(0, 1)
    after = got + 1.0  # any later allocation trips over a corrupted heap
    close(got, a @ w.T, dtype, scale=1000)
    close(after, a @ w.T + 1.0, dtype, scale=1000)
