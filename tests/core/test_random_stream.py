"""The reference random stream (plugrad.random_stream) against its specification.

Oracles: Random123's published Philox4x32-10 known-answer vectors, SplitMix64's published
first outputs, and a scalar transcription of the module docstring in plain Python integers
and `math` (element by element), which the vectorised NumPy reference must reproduce.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
from plugrad import random_stream as rs

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


# --- a scalar transcription of the specification ------------------------------------------
def spec_words(seed: int, e: int) -> tuple[int, int, int, int]:
    key = ((seed * 0x9E3779B97F4A7C15) & M64) ^ 0x5851F42D4C957F2D
    k0, k1 = key & M32, key >> 32
    c0, c1, c2, c3 = e & M32, e >> 32, 0, 0
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def spec_u(hi: int, lo: int) -> float:
    return ((hi << 32 | lo) >> 11) * 2.0**-53


def spec_value(kind: str, seed: int, e: int, params: tuple[float, ...]) -> float:
    r0, r1, r2, r3 = spec_words(seed, e)
    if kind == "uniform":
        low, high = params
        return low + (high - low) * spec_u(r0, r1)
    if kind == "normal":
        mean, std = params
        z = math.sqrt(-2.0 * math.log(1.0 - spec_u(r0, r1))) * math.cos(
            6.283185307179586 * spec_u(r2, r3)
        )
        return mean + std * z
    return 1.0 if spec_u(r0, r1) < params[0] else 0.0


# --- Philox and SplitMix64 ------------------------------------------------------------------
# Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] -> result[4]
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32,) * 4, (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in rs.philox4x32_10(counter, key)) == expected


def test_philox_is_vectorised_over_counters():
    counters = [np.array([c[i] for c, _, _ in KAT[:2]], dtype=np.uint32) for i in range(4)]
    r = rs.philox4x32_10(counters, (0, 0))
    assert [int(w[0]) for w in r] == list(KAT[0][2])
    assert [int(w[1]) for w in r] == [int(w) for w in rs.philox4x32_10((M32,) * 4, (0, 0))]


def test_splitmix64_published_outputs():
    # the first two outputs of SplitMix64 seeded with 0 (state advances by the golden gamma)
    assert rs.splitmix64(0) == 0xE220A8397B1DCDAF
    assert rs.splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_call_seeds():
    assert rs.call_seed(5, 1) == rs.splitmix64(5 ^ rs.splitmix64(1))
    assert len({rs.call_seed(0, k) for k in range(1, 1000)}) == 999


@pytest.mark.parametrize("seed", [0, 1, 123456789, 2**63, M64])
def test_words_follow_the_spec(seed):
    # counters across the 2^32 boundary exercise the counter's high word
    for start in (0, 2**32 - 2):
        got = rs.words(seed, start, start + 4)
        for i in range(4):
            assert tuple(int(w[i]) for w in got) == spec_words(seed, start + i)


# --- values -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "params"),
    [("uniform", (0.0, 1.0)), ("uniform", (-2.0, 3.0)), ("normal", (0.0, 1.0)),
     ("normal", (1.5, 2.0)), ("bernoulli", (0.3,))],
)  # fmt: skip
@pytest.mark.parametrize("seed", [0, 77, M64])
def test_float64_values_follow_the_spec(kind, params, seed):
    n = rs.BLOCK + 3  # crosses a block of the reference
    got = rs.draw(kind, (n,), params, seed)
    for e in [0, 1, 2, rs.BLOCK - 1, rs.BLOCK, n - 1]:
        expected = spec_value(kind, seed, e, params)
        if kind == "normal":  # NumPy's log may differ from math.log in the last bit
            assert got[e] == pytest.approx(expected, rel=4 * 2**-52, abs=4 * 2**-52)
        else:
            assert got[e] == expected


def test_float32_is_rounded_once_from_float64():
    x64 = rs.draw("normal", (1000,), (0.0, 1.0), 9)
    np.testing.assert_array_equal(rs.draw("normal", (1000,), (0.0, 1.0), 9, "float32"),
                                  x64.astype(np.float32))  # fmt: skip
    u64 = rs.draw("uniform", (1000,), (-2.0, 3.0), 9)
    u32 = rs.draw("uniform", (1000,), (-2.0, 3.0), 9, "float32")
    np.testing.assert_array_equal(u32, u64.astype(np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_stays_below_high_after_rounding(dtype):
    t = np.dtype(dtype).type
    high = float(np.nextafter(t(1.0), t(2.0)))
    values = rs.draw("uniform", (5000,), (1.0, high), 4, dtype)
    assert (values == 1.0).all()
    # where rounding does not reach high nothing is changed
    plain = rs.draw("uniform", (5000,), (0.0, 1.0), 4, dtype)
    assert plain.max() < 1.0


def test_bernoulli_writes_every_dtype():
    f = rs.draw("bernoulli", (500,), (0.4,), 2)
    for dtype in ("float32", "int64", "bool"):
        np.testing.assert_array_equal(rs.draw("bernoulli", (500,), (0.4,), 2, dtype), f)


def test_fill_numbers_elements_row_major_whatever_the_strides():
    base = np.zeros((6, 8))
    view = base[::-2, 1::3].T  # flipped, stepped and transposed
    rs.fill(view, "uniform", (0.0, 1.0), 11)
    np.testing.assert_array_equal(view, rs.draw("uniform", view.shape, (0.0, 1.0), 11))
    assert np.count_nonzero(base) == view.size
    zero_d = np.zeros(())
    rs.fill(zero_d, "uniform", (0.0, 1.0), 11)
    assert zero_d == spec_value("uniform", 11, 0, (0.0, 1.0))
    rs.fill(np.zeros((0, 3)), "normal", (0.0, 1.0), 11)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="int64"):
        rs.draw("uniform", (2,), (0.0, 1.0), 1, "int64")
    with pytest.raises(ValueError, match="unknown random kind 'gamma'"):
        rs.draw("gamma", (2,), (1.0,), 1)
    with pytest.raises(TypeError, match="takes 1 parameter"):
        rs.draw("bernoulli", (2,), (0.1, 0.2), 1)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rs.draw("uniform", (2,), (0.0, 1.0), -1)
    with pytest.raises(TypeError, match="unknown dtype 'complex64'"):
        rs.draw("uniform", (2,), (0.0, 1.0), 1, "complex64")
    with pytest.raises(TypeError, match="int8"):
        rs.draw("normal", (2,), (0.0, 1.0), 1, "int8")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_16_bit_floats_round_the_float64_value_once(kind, dtype):
    wide = rs.draw(kind, (4096,), (-2.0, 3.0), 5)
    narrow = rs.draw(kind, (4096,), (-2.0, 3.0), 5, dtype)
    np_dtype = plugrad.dtypes.ALL[dtype].numpy
    assert narrow.dtype == np_dtype
    expected = wide.astype(np_dtype)
    if kind == "uniform":  # kept below high after rounding
        expected[expected >= np_dtype.type(3.0)] = np.nextafter(
            np_dtype.type(3.0), np_dtype.type(0)
        )
    np.testing.assert_array_equal(narrow, expected)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8"])
def test_bernoulli_writes_narrow_integers(dtype):
    got = rs.draw("bernoulli", (64,), (0.5,), 3, dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, rs.draw("bernoulli", (64,), (0.5,), 3))


# --- integer derivations ----------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 10, 2**32 + 1, 2**63, M64])
def test_integers_are_the_exact_high_word_of_w_times_n(n):
    seed = 31
    got = rs.integers((64,), n, seed)
    w = rs.word64(64, seed)
    assert got.dtype == np.uint64
    assert [int(k) for k in got] == [(int(x) * n) >> 64 for x in w]
    assert all(0 <= int(k) < n for k in got)


def test_word64_joins_r0_and_r1():
    r0, r1, _, _ = rs.words(8, 0, 3)
    assert [int(x) for x in rs.word64(3, 8)] == [int(a) << 32 | int(b) for a, b in zip(r0, r1)]


def test_integers_take_one_bound_per_element():
    got = rs.integers((2, 3), [[1, 2, 3], [4, 5, 6]], 5)
    w = rs.word64(6, 5)
    bounds = [1, 2, 3, 4, 5, 6]
    assert got.reshape(-1).tolist() == [(int(x) * b) >> 64 for x, b in zip(w, bounds)]
    with pytest.raises(ValueError, match="n must lie"):
        rs.integers((2,), 0, 5)
    with pytest.raises(TypeError, match="integral"):
        rs.integers((2,), 2.5, 5)


@pytest.mark.parametrize("n", [0, 1, 2, 17, rs.BLOCK + 5])
def test_permutation_is_the_stable_argsort_of_the_words(n):
    got = rs.permutation(n, 3)
    assert got.dtype == np.int64 and sorted(got.tolist()) == list(range(n))
    w = [int(x) for x in rs.word64(n, 3)]
    assert got.tolist() == sorted(range(n), key=lambda i: (w[i], i))
    with pytest.raises(ValueError, match="non-negative"):
        rs.permutation(-1, 3)
