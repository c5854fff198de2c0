"""Random kernels against the core's reference stream (`plugrad.random_stream`).

One seed, one stream: every backend's `random_uniform` and `random_bernoulli` give the
reference's bits, and `random_normal` lies within 2 ulp of it (float64), on strided, offset,
flipped, empty and 0-d outputs. Elements outside the view stay untouched. The moment tests
check the stream itself (mean, variance, histogram, skew on 100k samples).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugrad import random_stream
from plugrad.testing.helpers import compact_out, need, read, read_flat
from plugrad.testing.strategies import (
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    NUMPY_DTYPES,
    kit_settings,
    shapes,
    views,
)

SAMPLES = 100_000
KIND_OF = {"random_uniform": "uniform", "random_normal": "normal", "random_bernoulli": "bernoulli"}
PARAMS = {
    "random_uniform": [(0.0, 1.0), (-2.0, 3.0), (5.0, 5.0), (-1e-3, 1e-3), (1e6, 1e6 + 1)],
    "random_normal": [(0.0, 1.0), (0.2, 0.7), (1.5, 2.0), (-3.0, 0.1), (0.0, 1.9), (0.0, 0.0)],
    "random_bernoulli": [(0.0,), (0.3,), (0.5,), (1.0,), (1e-300,), (1.0 - 2**-53,)],
}
CASES = (
    [("random_uniform", d) for d in FLOAT_DTYPES]
    + [("random_normal", d) for d in FLOAT_DTYPES]
    + [("random_bernoulli", d) for d in DTYPES]
)
SEEDS = st.one_of(st.sampled_from([0, 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))


def normal_tolerance(shape: tuple[int, ...], mean: float, std: float, seed: int,
                     dtype: str) -> np.ndarray:  # fmt: skip
    """How far a backend's normal may lie from the reference (random_stream's docstring): z
    within 2 ulp, so x = mean + std * z within 2 |std| ulp(z) + ulp(x - mean) + ulp(x)
    (2 ulp(x) for normal(0, 1), where x is z); a narrower dtype adds one ulp of its own (the
    reference rounds x once, from float64)."""
    x = random_stream.draw("normal", shape, (mean, std), seed)
    z = random_stream.draw("normal", shape, (0.0, 1.0), seed)
    tol = 2 * abs(std) * np.spacing(np.abs(z))
    if (mean, std) != (0.0, 1.0):
        tol += np.spacing(np.abs(x - mean)) + np.spacing(np.abs(x))
    if dtype != "float64":
        narrow = np.abs(x.astype(NUMPY_DTYPES[dtype]))
        tol += np.spacing(narrow).astype(np.float64)
    return tol


def assert_matches_reference(actual, expected, seed, kernel, params, dtype, msg=""):
    """uniform and bernoulli to the bit; normal within `normal_tolerance`."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if kernel != "random_normal":
        a, e = actual.reshape(-1), expected.reshape(-1)
        if a.tobytes() != e.tobytes():
            rows = lambda x: x.view(np.uint8).reshape(x.size, x.itemsize)  # noqa: E731
            bad = np.flatnonzero((rows(a) != rows(e)).any(axis=1))
            raise AssertionError(
                f"{kernel}{params} {dtype} differs from the reference stream at elements "
                f"{bad[:8].tolist()}: got {a[bad[:4]].tolist()}, expected {e[bad[:4]].tolist()} "
                f"{msg}"
            )
        return
    mean, std = params
    tol = normal_tolerance(actual.shape, mean, std, seed, dtype)
    error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = np.flatnonzero(~(error <= tol))
    assert bad.size == 0, (
        f"random_normal{params} {dtype} lies farther than 2 ulp of z from the reference at "
        f"{bad[:8].tolist()}: got {actual.ravel()[bad[:4]].tolist()}, expected "
        f"{expected.ravel()[bad[:4]].tolist()} {msg}"
    )


@pytest.mark.parametrize(("kernel", "dtype"), CASES, ids=[f"{k}-{d}" for k, d in CASES])
@kit_settings()
@given(data=st.data())
def test_random_matches_reference_stream(backend, kernel, dtype, data):
    need(backend, dtype)
    shape = data.draw(shapes(max_side=6), label="shape")
    case = data.draw(views(shape, dtype, writable=True), label="out")
    params = data.draw(st.sampled_from(PARAMS[kernel]), label="params")
    seed = data.draw(SEEDS, label="seed")
    out = case.upload(backend)
    getattr(backend, kernel)(out, *params, seed)
    actual = read_flat(backend, out.buffer, case.flat.size, dtype)

    kind = KIND_OF[kernel]
    expected = case.flat.copy()
    random_stream.fill(case.view_on(expected), kind, params, seed)
    inside = np.zeros(case.flat.size, dtype=bool)
    case.view_on(inside)[...] = True
    outside_ok = actual[~inside].tobytes() == case.flat[~inside].tobytes()
    assert outside_ok, f"{kernel} wrote outside its view {case.layout}"
    got, want = case.view_on(actual).copy(), case.view_on(expected).copy()
    assert_matches_reference(got, want, seed, kernel, params, dtype,
                             msg=f"seed={seed} {case.layout}")  # fmt: skip


@pytest.mark.parametrize(("kernel", "dtype"), CASES, ids=[f"{k}-{d}" for k, d in CASES])
def test_random_large_sample_matches_reference_stream(backend, kernel, dtype):
    """Past the reference's block size and the backend's threading grain."""
    need(backend, dtype)
    params = PARAMS[kernel][1]
    out = compact_out(backend, (3, SAMPLES // 3 + 7), dtype)
    getattr(backend, kernel)(out, *params, 987654321)
    kind = KIND_OF[kernel]
    expected = random_stream.draw(kind, out.shape, params, 987654321, dtype)
    assert_matches_reference(read(backend, out), expected, 987654321, kernel, params, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_uniform_never_returns_high(backend, dtype):
    """Rounding to the dtype may reach `high`; the stream keeps [low, high) half-open."""
    need(backend, dtype)
    np_dtype = NUMPY_DTYPES[dtype]
    low = 1.0
    high = float(np.nextafter(np_dtype(1.0), np_dtype(2.0)))  # nothing lies between them
    out = compact_out(backend, (4096,), dtype)
    backend.random_uniform(out, low, high, 3)
    values = read(backend, out)
    assert (values == low).all(), np.unique(values)
    backend.random_uniform(out, 2.5, 2.5, 3)  # an empty interval gives its one point
    assert (read(backend, out) == 2.5).all()


@pytest.mark.parametrize("kernel", ["random_uniform", "random_normal"])
@pytest.mark.parametrize("dtype", [*INT_DTYPES, "bool"])
def test_random_float_kernels_refuse_other_dtypes(backend, kernel, dtype):
    need(backend, dtype)
    out = compact_out(backend, (4,), dtype)
    with pytest.raises(TypeError, match=dtype):
        getattr(backend, kernel)(out, 0.0, 1.0, 1)


# --- the stream's statistics --------------------------------------------------------------


def _sample(backend, kernel: str, dtype: str, *args, seed: int) -> np.ndarray:
    out = compact_out(backend, (SAMPLES,), dtype)
    getattr(backend, kernel)(out, *args, seed)
    return read(backend, out)


RANDOM_CASES = (
    [("random_uniform", d, (-2.0, 3.0)) for d in FLOAT_DTYPES]
    + [("random_normal", d, (1.5, 2.0)) for d in FLOAT_DTYPES]
    + [("random_bernoulli", d, (0.3,)) for d in DTYPES]
)


@pytest.mark.parametrize(
    ("kernel", "dtype", "args"), RANDOM_CASES, ids=[f"{k}-{d}" for k, d, _ in RANDOM_CASES]
)
def test_random_seeding(backend, kernel, dtype, args):
    need(backend, dtype)
    first = _sample(backend, kernel, dtype, *args, seed=1234)
    again = _sample(backend, kernel, dtype, *args, seed=1234)
    other = _sample(backend, kernel, dtype, *args, seed=1235)
    assert first.tobytes() == again.tobytes(), "the same seed must give the same bits"
    assert first.tobytes() != other.tobytes(), "different seeds gave identical samples"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_uniform_moments(backend, dtype):
    need(backend, dtype)
    low, high = -2.0, 3.0
    x = _sample(backend, "random_uniform", dtype, low, high, seed=7).astype(np.float64)
    assert np.isfinite(x).all()
    assert x.min() >= low and x.max() < high, (x.min(), x.max())
    width = high - low
    assert abs(x.mean() - (low + high) / 2) < 6 * width / math.sqrt(12 * SAMPLES)
    assert abs(x.var() - width**2 / 12) < 6 * math.sqrt((width**4 / 80 - width**4 / 144) / SAMPLES)
    counts, _ = np.histogram(x, bins=10, range=(low, high))
    assert np.all(np.abs(counts - SAMPLES / 10) < 6 * math.sqrt(SAMPLES * 0.1 * 0.9)), counts


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_normal_moments(backend, dtype):
    need(backend, dtype)
    mean, std = 1.5, 2.0
    x = _sample(backend, "random_normal", dtype, mean, std, seed=11).astype(np.float64)
    assert np.isfinite(x).all()
    assert abs(x.mean() - mean) < 6 * std / math.sqrt(SAMPLES)
    assert abs(x.std() - std) < 6 * std / math.sqrt(2 * SAMPLES)
    inside = np.mean(np.abs(x - mean) < std)  # 68.27% within one std
    assert abs(inside - 0.682689) < 6 * math.sqrt(0.6827 * 0.3173 / SAMPLES), inside
    skew = np.mean(((x - mean) / std) ** 3)
    assert abs(skew) < 6 * math.sqrt(15 / SAMPLES), skew


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_random_bernoulli_mean(backend, dtype, p):
    need(backend, dtype)
    values = _sample(backend, "random_bernoulli", dtype, p, seed=5).astype(np.float64)
    assert np.isin(values, (0.0, 1.0)).all(), np.unique(values)
    sigma = math.sqrt(p * (1 - p) / SAMPLES)
    assert abs(values.mean() - p) <= 6 * sigma, values.mean()


@pytest.mark.parametrize("kernel", list(KIND_OF))
@pytest.mark.parametrize("seed", [-1, 2**64])
def test_random_kernels_refuse_seeds_outside_uint64(backend, kernel, seed):
    out = compact_out(backend, (4,), "float32")
    with pytest.raises(ValueError, match="seed"):
        getattr(backend, kernel)(out, *PARAMS[kernel][0], seed)
