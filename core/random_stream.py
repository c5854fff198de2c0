"""One seed, one stream: the random numbers of every backend, specified to the bit.

This docstring is the specification; the functions below are its vectorised NumPy reference,
which `numpy_ref` runs and the conformance kit (`plugrad.testing.test_random`) checks every
backend against.

Per-call seeds. A `plugrad.Generator` with initial seed `s0` (a uint64) hands call number
k = 1, 2, 3, ... (every random function call, of any size, even empty, takes exactly one)
the 64-bit seed

    seed_k = splitmix64(s0 ^ splitmix64(k))
    splitmix64(x): x += 0x9E3779B97F4A7C15; x = (x ^ x >> 30) * 0xBF58476D1CE4E5B9;
                   x = (x ^ x >> 27) * 0x94D049BB133111EB; return x ^ x >> 31   (all mod 2^64)

A Generator's state is (s0, k), the number of calls drawn so far. One call each: rand, randn,
randint, randperm, bernoulli (and their *_like forms), an nn.init fill, a training Dropout
forward with 0 < p < 1, a shuffling sampler's epoch (RandomSampler without replacement: one
per len(dataset) samples), random_split, a random transform. A DataLoader epoch draws its
sampler's calls, then one for the workers' base seed, integers(2^63), whatever num_workers is.

Philox4x32-10 (Salmon et al., SC'11; Random123's `philox4x32_10`, whose published
known-answer vectors tests/core/test_random_stream.py checks). One kernel call with seed s
fills an output of n elements; element e, its row-major index within the output's shape
(whatever the output's strides or offset), draws from counter e alone, so values depend on no
device, thread count or memory layout:

    key     = (s * 0x9E3779B97F4A7C15 mod 2^64) ^ 0x5851F42D4C957F2D
    k0, k1  = the low and high 32 bits of key
    counter = (c0, c1, c2, c3) = (e mod 2^32, e >> 32, 0, 0)
    10 rounds:  p0 = 0xD2511F53 * c0,  p1 = 0xCD9E8D57 * c2            (32 x 32 -> 64 bits)
                (c0, c1, c2, c3) = (hi(p1) ^ c1 ^ k0, lo(p1), hi(p0) ^ c3 ^ k1, lo(p0))
                k0 += 0x9E3779B9,  k1 += 0xBB67AE85                      (mod 2^32)
    words   = r0, r1, r2, r3 = c0, c1, c2, c3 after the last round

Values, in IEEE float64 with round-to-nearest-even, every operation rounded on its own (no
fused multiply-add), in this order:

    u(hi, lo)            = ((hi << 32 | lo) >> 11) * 2^-53               exact, in [0, 1)
    uniform(low, high):  x = low + (high - low) * u(r0, r1)
    normal(mean, std):   z = sqrt(-2 * log(1 - u(r0, r1))) * cos(6.283185307179586 * u(r2, r3))
                         x = mean + std * z
    bernoulli(p):        x = 1 if u(r0, r1) < p else 0
    word64               w = r0 << 32 | r1                                (integer draws below)

Output dtypes. x is rounded once, to nearest even, from float64 to the output's dtype
(float16 and bfloat16 too: directly from float64, never through float32). uniform then keeps
its interval half-open: where the rounded value is >= H, with H = round(high) > round(low), it
becomes the largest value of the dtype below H (rounding can reach `high`, in float64 too).
bernoulli writes 1 or 0 in any dtype (floating, integer, bool); uniform and normal write
floating dtypes only.

Accuracy. uniform, bernoulli and the integer draws use only exact integer operations and
correctly rounded +, *, compare: every backend gives the same bits. normal calls log, sqrt and
cos, whose last bit differs between math libraries: a backend's z lies within 2 ulp of this
reference's in float64, so normal(0, 1) does, and normal(mean, std) within what the two
roundings of mean + std * z add: |dx| <= 2 |std| ulp(z) + ulp(x - mean) + ulp(x). A
narrower dtype adds one ulp of its own.

Integer draws, permutations and decisions are computed by the core on the host with this
module, from one call's words, and copied to the device, so they are the same everywhere:

    integers(n)          k = floor(w * n / 2^64) in [0, n), exactly (a 128-bit product);
                         randint(low, high) = low + integers(high - low)
    permutation(n)       the stable argsort of w_0 .. w_{n-1} (randperm, DataLoader shuffles,
                         random_split; equal words, about n^2 / 2^65 likely, keep index order)
    a decision (p)       u(r0, r1) of element 0 < p (RandomFlipHorizontal)
    a crop's corner      (top, left) = elements 0 and 1 of integers((H - h + 1, W - w + 1))
    bernoulli(p tensor)  element e is 1 where u(r0, r1) of e < p[e] (p read as float64), the
                         same as the kernel with that scalar p
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from . import dtypes as _dtypes

__all__ = [
    "BLOCK",
    "KINDS",
    "call_seed",
    "draw",
    "fill",
    "integers",
    "permutation",
    "philox4x32_10",
    "philox_key",
    "splitmix64",
    "word64",
    "words",
]

KINDS = ("uniform", "normal", "bernoulli")
BLOCK = 1 << 16  # elements per block: bounds the reference's scratch memory at a few MiB

_MASK64 = (1 << 64) - 1
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT11 = np.uint64(11)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_TWO_PI = 6.283185307179586
# Every plugrad dtype (plugrad.dtypes): bernoulli writes any, uniform and normal the floating.
_ANY = {name: d.numpy.type for name, d in _dtypes.ALL.items()}
_FLOATING = {d.name: d.numpy.type for d in _dtypes.FLOATING}


def splitmix64(x: int) -> int:
    """Sebastiano Vigna's SplitMix64 finaliser of x + golden gamma (mod 2^64)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def call_seed(initial_seed: int, call: int) -> int:
    """The seed of call number `call` (1, 2, ...) of a Generator seeded with `initial_seed`."""
    return splitmix64((initial_seed & _MASK64) ^ splitmix64(call))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"a random kernel's seed is an integer, got {type(seed).__name__}")
    if not 0 <= int(seed) <= _MASK64:
        raise ValueError(f"a random kernel's seed lies in [0, 2**64), got {seed}")
    return int(seed)


def philox_key(seed: int) -> tuple[int, int]:
    """(k0, k1): the Philox key words of a call's seed."""
    key = ((_check_seed(seed) * 0x9E3779B97F4A7C15) & _MASK64) ^ 0x5851F42D4C957F2D
    return key & 0xFFFFFFFF, key >> 32


def philox4x32_10(counter: tuple, key: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Philox4x32-10 of counters (c0, c1, c2, c3) (uint32 values, arrays or ints, broadcast
    together) under key (k0, k1); returns the words (r0, r1, r2, r3) as uint64 arrays < 2^32."""
    c0, c1, c2, c3 = np.broadcast_arrays(*(np.asarray(c, dtype=np.uint64) for c in counter))
    k0, k1 = int(key[0]), int(key[1])
    for _ in range(10):
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> _SHIFT32) ^ c1 ^ np.uint64(k0),
            p1 & _MASK32,
            (p0 >> _SHIFT32) ^ c3 ^ np.uint64(k1),
            p0 & _MASK32,
        )
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


def words(seed: int, start: int, stop: int) -> tuple[np.ndarray, ...]:
    """The words (r0, r1, r2, r3) of elements start .. stop-1 of a call with `seed`."""
    e = np.arange(start, stop, dtype=np.uint64)
    return philox4x32_10((e & _MASK32, e >> _SHIFT32, 0, 0), philox_key(seed))


def _unit(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return (((hi << _SHIFT32) | lo) >> _SHIFT11).astype(np.float64) * 2.0**-53


def _float64(kind: str, seed: int, start: int, stop: int, params: tuple) -> np.ndarray:
    """The float64 values x of elements start .. stop-1 (before rounding to a dtype)."""
    r0, r1, r2, r3 = words(seed, start, stop)
    if kind == "uniform":
        low, high = params
        return low + (high - low) * _unit(r0, r1)
    if kind == "normal":
        mean, std = params
        z = np.sqrt(-2.0 * np.log(1.0 - _unit(r0, r1))) * np.cos(_TWO_PI * _unit(r2, r3))
        return mean + std * z
    (p,) = params
    return (_unit(r0, r1) < p).astype(np.float64)


def _rounded(x: np.ndarray, kind: str, params: tuple, dtype: str) -> np.ndarray:
    """x rounded once to `dtype`; uniform kept below round(high)."""
    np_dtype = _ANY[dtype]
    if kind == "bernoulli":
        return x.astype(np_dtype)
    with np.errstate(over="ignore"):  # a bound beyond the dtype's range rounds to inf
        result = x.astype(np_dtype)
        if kind == "uniform":
            low, high = np_dtype(params[0]), np_dtype(params[1])
            if high > low:
                below = np.nextafter(high, np_dtype(-math.inf))
                result[result >= high] = below
    return result


def _check(kind: str, params: tuple, dtype: str) -> tuple[float, ...]:
    if kind not in KINDS:
        raise ValueError(f"unknown random kind {kind!r}; expected one of {', '.join(KINDS)}")
    wanted = 1 if kind == "bernoulli" else 2
    if len(params) != wanted:
        raise TypeError(f"random {kind} takes {wanted} parameter(s), got {len(params)}")
    allowed = _ANY if kind == "bernoulli" else _FLOATING
    if dtype not in allowed:
        raise TypeError(f"random {kind} writes {', '.join(allowed)}, not {dtype}")
    return tuple(float(v) for v in params)


def _blocks(size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, BLOCK):
        yield start, min(start + BLOCK, size)


def draw(kind: str, shape: tuple[int, ...], params: tuple, seed: int,
         dtype: str = "float64") -> np.ndarray:  # fmt: skip
    """The values of one call: `draw("uniform", (2, 3), (0.0, 1.0), seed)` -> (2, 3) float64."""
    if dtype not in _ANY:
        raise TypeError(
            f"random {kind}: unknown dtype {dtype!r}; expected one of {', '.join(_ANY)}"
        )
    out = np.empty(tuple(shape), dtype=_ANY[dtype])
    fill(out, kind, params, seed)
    return out


def fill(view: np.ndarray, kind: str, params: tuple, seed: int) -> None:
    """Write one call's values into a NumPy array or view of any strides, element e (row-major
    in view.shape) from counter e. The dtype is the view's."""
    params = _check(kind, params, view.dtype.name)
    seed = _check_seed(seed)
    flat = view.reshape(-1) if view.flags.c_contiguous else view.flat
    for start, stop in _blocks(view.size):
        flat[start:stop] = _rounded(_float64(kind, seed, start, stop, params), kind, params,
                                    view.dtype.name)  # fmt: skip


def word64(size: int, seed: int) -> np.ndarray:
    """The 64-bit words w = r0 << 32 | r1 of elements 0 .. size-1 (uint64)."""
    out = np.empty(size, dtype=np.uint64)
    for start, stop in _blocks(size):
        r0, r1, _, _ = words(seed, start, stop)
        out[start:stop] = (r0 << _SHIFT32) | r1
    return out


def _mulhi64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """floor(a * b / 2^64) of uint64 arrays, exact (schoolbook on 32-bit halves)."""
    a_hi, a_lo, b_hi, b_lo = a >> _SHIFT32, a & _MASK32, b >> _SHIFT32, b & _MASK32
    lo_lo, hi_lo, lo_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi
    cross = (lo_lo >> _SHIFT32) + (hi_lo & _MASK32) + lo_hi  # at most 2^64 - 1
    return a_hi * b_hi + (hi_lo >> _SHIFT32) + (cross >> _SHIFT32)


def integers(shape: tuple[int, ...], n: int | np.ndarray, seed: int) -> np.ndarray:
    """k = floor(w * n / 2^64) in [0, n) for each element (uint64); `n` (1 .. 2^64 - 1) is an
    int or an array broadcast to `shape`."""
    bound = np.asarray(n, dtype=object)
    if bound.size and not all(isinstance(v, (int, np.integer)) for v in bound.flat):
        raise TypeError("integers: n must be integral")
    if bound.size and not all(1 <= int(v) <= _MASK64 for v in bound.flat):
        raise ValueError(f"integers: n must lie in [1, 2**64), got {n}")
    bound = np.broadcast_to(bound.astype(np.uint64), tuple(shape)).reshape(-1)
    w = word64(bound.size, seed)
    return _mulhi64(w, bound).reshape(shape)


def permutation(n: int, seed: int) -> np.ndarray:
    """A permutation of 0 .. n-1 (int64): the stable argsort of the call's 64-bit words."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"permutation needs a non-negative integer n, got {n!r}")
    return np.argsort(word64(int(n), seed), kind="stable").astype(np.int64)
