"""The argument checks the CUDA backend makes before any launch, in one place: buffer type,
dtypes, shapes, and that every view's lowest and highest element lie inside its buffer, so no
argument can make a kernel touch memory outside its buffers.

The layout arithmetic (element count, extent, int64 overflow) is the core's shared
plugrad.backend.validation.layout, so every native backend refuses the same layouts.
"""

from __future__ import annotations

import operator

from plugrad.backend import validation

from . import dtypes
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
    if len(shape) > MAX_DIMS:
        raise ValueError(f"cuda {what}: {len(shape)} dimensions, at most {MAX_DIMS} supported")
    result = validation.layout(shape, strides, f"cuda {what}")
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


# --- shapes of the kernels with more than one operand layout ---------------------------


def reduced_out_strides(what: str, x, axes, out) -> list[int]:
    """out's strides over x's dims (0 on reduced axes); out may drop the reduced axes or keep
    them as 1."""
    nd = len(x.shape)
    kept = [d for d in range(nd) if d not in axes]
    if tuple(out.shape) == tuple(x.shape[d] for d in kept):
        it = iter(out.strides)
        return [0 if d in axes else next(it) for d in range(nd)]
    if tuple(out.shape) == tuple(1 if d in axes else x.shape[d] for d in range(nd)):
        return [0 if d in axes else out.strides[d] for d in range(nd)]
    raise ValueError(
        f"cuda {what}: out shape {tuple(out.shape)} does not match x shape {tuple(x.shape)} "
        f"reduced over axes {tuple(axes)}"
    )


def index_axis(what, index, other, axis, other_name) -> int:
    """The axis of gather/scatter_add, normalised; index and `other` must share ndim."""
    nd = len(index.shape)
    if len(other.shape) != nd:
        raise ValueError(
            f"cuda {what}: index {index.shape} and {other_name} {other.shape} differ in number "
            "of dimensions"
        )
    axis = int(axis)
    if nd == 0 or not -nd <= axis < nd:
        raise ValueError(f"cuda {what}: axis {axis} out of range for shape {index.shape}")
    return axis % nd


def cross_entropy_operands(what, rows, target, compact, zero_d) -> tuple[int, int]:
    """(N, C) of the cross-entropy kernels' operands after checking their shapes."""
    shape = tuple(rows.shape)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"cuda {what}: expected (N, C) with N, C >= 1, got {shape}")
    if tuple(target.shape) != shape[:1] or tuple(zero_d.shape) != ():
        raise ValueError(
            f"cuda {what}: target {target.shape} must be ({shape[0]},) and the loss (or its "
            f"gradient) 0-d, got {zero_d.shape}"
        )
    if tuple(compact.shape) != shape or not has_compact_strides(compact):
        raise ValueError(
            f"cuda {what}: the (N, C) output/log_probs must be compact of shape {shape}, got "
            f"shape {compact.shape} strides {compact.strides}"
        )
    check(target, f"{what} target", "int64")
    return shape


def conv_geometry(what, x_shape, w_shape, o_shape, dtype, stride, padding, dilation,
                  groups) -> tuple[int, ...]:  # fmt: skip
    """(n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups) of a valid conv2d."""
    floating(what, dtype, dtypes.FLOATS)
    stride, padding, dilation = (ints(v, what) for v in (stride, padding, dilation))
    groups = int(groups)
    if len(x_shape) != 4 or len(w_shape) != 4 or len(o_shape) != 4:
        raise ValueError(
            f"cuda {what}: expected 4-D x, w, out; got {x_shape}, {w_shape}, {o_shape}"
        )
    n, c, h, wd = x_shape
    o, cg, kh, kw = w_shape
    n2, o2, oh, ow = o_shape
    if (
        len(stride) != 2 or len(padding) != 2 or len(dilation) != 2 or groups < 1
        or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0
    ):  # fmt: skip
        raise ValueError(
            f"cuda {what}: bad stride {stride}, padding {padding}, dilation {dilation} or "
            f"groups {groups}"
        )
    eh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ew = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if (
        c % groups or o % groups or cg * groups != c or n2 != n or o2 != o
        or (oh, ow) != (max(eh, 0), max(ew, 0))
    ):  # fmt: skip
        raise ValueError(
            f"cuda {what}: x {x_shape}, w {w_shape}, out {o_shape} do not fit stride "
            f"{stride}, padding {padding}, dilation {dilation}, groups {groups}"
        )
    return (n, c, h, wd, o, kh, kw, oh, ow, *stride, *padding, *dilation, groups)
