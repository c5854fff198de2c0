"""The argument checks the CUDA backend makes before any launch: the core's shared validation
(plugrad.backend.validation.Validator) with the CUDA buffer type, so no argument can make a
kernel touch memory outside its buffers and every native backend refuses the same input with
the same message; plus the layout helpers the host side needs."""

from __future__ import annotations

from plugrad.backend import validation

from . import dtypes
from .buffer import CudaBuffer

MAX_DIMS = 64
VALID = validation.Validator("cuda", CudaBuffer, dtypes.NAMES, max_dims=MAX_DIMS)
check = VALID.view  # check(x, what, dtype=None, role="") -> element count
_CACHE_MAX = 4096
_COMPACT: dict = {}


def extent(shape, strides, what: str) -> tuple[int, int, int]:
    """(element count, lowest, highest relative element offset) of a layout; validates it."""
    if len(shape) > MAX_DIMS:
        raise ValueError(f"cuda {what}: {len(shape)} dimensions, at most {MAX_DIMS} supported")
    return validation.layout(shape, strides, f"cuda {what}")


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
    return validation.has_compact_strides(tuple(x.shape), tuple(x.strides))


def reduced_out_strides(x, axes: tuple[int, ...], out) -> list[int]:
    """out's strides over x's dims (0 on the reduced axes) for an out the validator accepted:
    x's shape without the reduced axes, or with them as 1."""
    if len(out.shape) == len(x.shape):
        return [0 if d in axes else out.strides[d] for d in range(len(x.shape))]
    it = iter(out.strides)
    return [0 if d in axes else next(it) for d in range(len(x.shape))]
