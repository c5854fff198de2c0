"""Pure shape and stride arithmetic shared by NDArray and the ops (no device work here)."""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable

INT64_MAX = 2**63 - 1
"""Element counts, strides and offsets are int64 in every backend: no shape may exceed it."""


class ShapeOverflowError(RuntimeError, ValueError):
    """A shape whose element count (or row-major stride) does not fit int64. A RuntimeError as
    torch's "integer multiplication overflow", and a ValueError as plugrad's other bad shapes."""


def _overflow(shape: object) -> ShapeOverflowError:
    return ShapeOverflowError(
        f"shape {tuple(shape)!r} is too large: integer multiplication overflow (its element "
        f"count or row-major strides exceed int64, {INT64_MAX})"
    )


@functools.lru_cache(maxsize=4096)
def compact_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides in elements: (2, 3, 4) -> (12, 4, 1). Cached: it is on every op.
    Raises ShapeOverflowError when they would not fit int64 (even with a 0-sized dimension)."""
    strides = []
    step = 1
    for dim in reversed(shape):
        strides.append(step)
        step *= max(dim, 1)
    if step > INT64_MAX:
        raise _overflow(shape)
    return tuple(reversed(strides))


def prod(shape: Iterable[int]) -> int:
    """The element count of `shape`; ShapeOverflowError when it does not fit int64."""
    count = math.prod(shape)
    if count > INT64_MAX:
        raise _overflow(shape)
    return count


def check_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` itself when it is a valid shape: non-negative sizes whose product (0-sized
    dimensions counted as 1, so that row-major strides fit too) fits int64."""
    extent = 1
    for dim in shape:
        if dim < 0:
            raise ValueError(f"negative dimension {dim} in shape {tuple(shape)!r}")
        extent *= dim or 1
    if extent > INT64_MAX:
        raise _overflow(shape)
    return shape


def normalize_shape(shape: object) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)) alike; reject negatives with a clear message."""
    if len(shape) == 1 and isinstance(shape[0], Iterable):  # type: ignore[arg-type]
        shape = tuple(shape[0])  # type: ignore[index]
    out = []
    for dim in shape:  # type: ignore[union-attr]
        if isinstance(dim, bool) or not isinstance(dim, int):
            try:
                dim = int(dim.__index__())  # type: ignore[union-attr]
            except AttributeError:
                raise TypeError(f"shape entries must be integers, got {shape!r}") from None
        if dim < 0:
            raise ValueError(f"negative dimension in shape {tuple(shape)!r}")
        out.append(dim)
    return check_shape(tuple(out))


def normalize_axis(axis: int, ndim: int) -> int:
    """Map a possibly negative axis into range, or raise IndexError naming the valid range."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}") from None
    lo = -max(ndim, 1)
    if not lo <= axis < max(ndim, 1):
        raise IndexError(
            f"axis {axis} is out of range for a {ndim}-d array (valid: {lo}..{-lo - 1})"
        )
    return axis % max(ndim, 1)


def normalize_axes(axes: object, ndim: int) -> tuple[int, ...]:
    """None -> all axes; an int or a sequence -> sorted unique non-negative axes."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    result = sorted({normalize_axis(a, ndim) for a in axes})  # type: ignore[union-attr]
    if ndim == 0:
        return ()
    return tuple(result)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of shapes, or ValueError naming them."""
    if len(shapes) == 2:
        return _broadcast_pair(tuple(shapes[0]), tuple(shapes[1]))
    return _broadcast(shapes)


@functools.lru_cache(maxsize=4096)
def _broadcast_pair(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return _broadcast((a, b))


def _broadcast(shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for shape in shapes:
        for i, dim in enumerate(shape, start=ndim - len(shape)):
            if dim < 0:
                raise ValueError(f"negative dimension {dim} in shape {tuple(shape)!r}")
            if dim == result[i] or dim == 1:
                continue
            if result[i] == 1:
                result[i] = dim
            else:
                raise ValueError(
                    "shapes " + ", ".join(str(tuple(s)) for s in shapes) + " cannot be broadcast "
                    "together (each dimension must match or be 1)"
                )
    return check_shape(tuple(result))


def view_strides_for_reshape(
    shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...]
) -> tuple[int, ...] | None:
    """Strides that give `new_shape` over the same memory without a copy, or None if impossible.

    The algorithm of NumPy's _attempt_nocopy_reshape: match groups of old and new dimensions
    with equal products; each old group must be contiguous within itself.
    """
    old = [(d, s) for d, s in zip(shape, strides) if d != 1]
    if prod(shape) == 0:
        return compact_strides(new_shape)
    new_strides = [0] * len(new_shape)
    oi = ni = 0
    old_dims = [d for d, _ in old]
    old_strides = [s for _, s in old]
    new_dims = list(new_shape)
    while ni < len(new_dims) and oi < len(old_dims):
        if new_dims[ni] == 1:
            new_strides[ni] = 0
            ni += 1
            continue
        np_, op_ = new_dims[ni], old_dims[oi]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new_dims[nj]
                nj += 1
            else:
                op_ *= old_dims[oj]
                oj += 1
        for k in range(oi, oj - 1):
            if old_strides[k] != old_strides[k + 1] * old_dims[k + 1]:
                return None
        new_strides[nj - 1] = old_strides[oj - 1]
        for k in range(nj - 1, ni, -1):
            new_strides[k - 1] = new_strides[k] * new_dims[k]
        ni, oi = nj, oj
    for k in range(ni, len(new_dims)):  # trailing ones
        new_strides[k] = 0
    return tuple(new_strides)


def resolve_reshape(size: int, new_shape: tuple[int, ...], old_shape: tuple[int, ...]) -> tuple:
    """Fill in one -1 and check the element count matches."""
    if new_shape.count(-1) > 1:
        raise ValueError(f"only one dimension can be -1 in reshape to {new_shape}")
    if -1 in new_shape:
        known = prod(tuple(d for d in new_shape if d != -1))
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of shape {old_shape} into {new_shape}")
        new_shape = tuple(size // known if d == -1 else d for d in new_shape)
    if any(d < 0 for d in new_shape) or prod(new_shape) != size:
        raise ValueError(
            f"cannot reshape array of shape {old_shape} ({size} elements) into shape {new_shape}"
        )
    return check_shape(new_shape)
