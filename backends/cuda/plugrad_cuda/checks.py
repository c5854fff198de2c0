"""The argument checks the CUDA backend makes before any launch, in one place: buffer type,
dtypes, shapes, and that every view's lowest and highest element lie inside its buffer, so no
argument can make a kernel touch memory outside its buffers.

When the core's shared validation module (plugrad.backend.validation) lands, these functions
become thin calls into it with the CUDA buffer type.
"""

from __future__ import annotations

import operator

from .buffer import CudaBuffer

MAX_DIMS = 64
_CACHE_MAX = 4096
_EXTENTS: dict = {}
_COMPACT: dict = {}


def extent(shape, strides, what: str) -> tuple[int, int, int]:
    """(element count, lowest, highest relative element offset) of a layout; validates it."""
    try:
        return _EXTENTS[shape, strides]
    except (KeyError, TypeError):
        pass
    if len(shape) != len(strides):
        raise ValueError(f"cuda {what}: shape {shape} and strides {strides} differ in length")
    if len(shape) > MAX_DIMS:
        raise ValueError(f"cuda {what}: {len(shape)} dimensions, at most {MAX_DIMS} supported")
    lo = hi = 0
    n = 1
    for s, st in zip(shape, strides):
        s, st = operator.index(s), operator.index(st)
        if s < 0:
            raise ValueError(f"cuda {what}: negative extent in shape {shape}")
        n *= s
        if st > 0:
            hi += (s - 1) * st
        else:
            lo += (s - 1) * st
    result = (n, lo, hi) if n else (0, 0, 0)
    try:
        if len(_EXTENTS) >= _CACHE_MAX:
            _EXTENTS.clear()
        _EXTENTS[shape, strides] = result
    except TypeError:
        pass
    return result


def check(x, what: str, dtype: str | None = None) -> int:
    """Validate one Strided operand; returns its element count."""
    buf = x.buffer
    if type(buf) is not CudaBuffer:
        raise TypeError(f"cuda {what}: expected a cuda buffer, got {type(buf).__name__}")
    if x.dtype != buf.dtype:
        raise TypeError(f"cuda {what}: view dtype {x.dtype} does not match buffer {buf.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"cuda {what}: expected dtype {dtype}, got {x.dtype}")
    n, lo, hi = extent(x.shape, x.strides, what)
    if n:
        off = x.offset
        if off + lo < 0 or off + hi >= buf.size:
            raise IndexError(
                f"cuda {what}: view shape {x.shape} strides {x.strides} offset {off} reaches "
                f"elements [{off + lo}, {off + hi}] outside its buffer of {buf.size} {buf.dtype}"
            )
    return n


def same_shape(what: str, *views) -> None:
    shape = tuple(views[0].shape)
    for v in views[1:]:
        if tuple(v.shape) != shape:
            raise ValueError(
                f"cuda {what}: shapes differ: {', '.join(str(tuple(v.shape)) for v in views)}"
            )


def floating(what: str, dtype: str, floats: tuple[str, ...]) -> None:
    if dtype not in floats:
        raise TypeError(f"cuda {what} supports {', '.join(floats)}, not {dtype}")


def compact_strides(shape) -> tuple[int, ...]:
    try:
        return _COMPACT[shape]
    except (KeyError, TypeError):
        pass
    strides = []
    acc = 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(int(s), 1)
    result = tuple(reversed(strides))
    try:
        if len(_COMPACT) >= _CACHE_MAX:
            _COMPACT.clear()
        _COMPACT[shape] = result
    except TypeError:
        pass
    return result


def has_compact_strides(x) -> bool:
    """Row-major strides (any stride on an extent-1 dim); the offset may be anything."""
    compact = compact_strides(x.shape)
    if x.strides == compact:
        return True
    return all(s == 1 or st == c for s, st, c in zip(x.shape, x.strides, compact))


def ints(values, what: str) -> tuple[int, ...]:
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError as error:
        raise TypeError(f"cuda {what}: expected integers, got {values!r}") from error
