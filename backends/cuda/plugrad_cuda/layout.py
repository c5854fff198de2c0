"""Strided layouts as the kernels take them (`pg::Layout<N>` in kernels/pg_common.cuh): one
shape and N operands' strides, by value, after merging dimensions.

Merging drops extent-1 dimensions and joins neighbours that every operand walks as one run
(stride[d] == stride[d + 1] * shape[d + 1]), so a compact or broadcast operand costs one
dimension of index arithmetic, and all-contiguous operands take the kernels' direct path.
"""

from __future__ import annotations

import ctypes

MAXD = 12  # PG_MAXD
_CACHE_MAX = 4096
_CLASSES: dict[int, type] = {}
_MERGED: dict = {}


def layout_class(n: int) -> type:
    """The ctypes mirror of pg::Layout<n> (only 8-byte fields: no padding questions)."""
    cls = _CLASSES.get(n)
    if cls is None:
        cls = type(
            f"Layout{n}",
            (ctypes.Structure,),
            {
                "_fields_": [
                    ("nd", ctypes.c_int64),
                    ("shape", ctypes.c_int64 * MAXD),
                    ("strides", (ctypes.c_int64 * MAXD) * n),
                ]
            },
        )
        _CLASSES[n] = cls
    return cls


def merge(shape: tuple[int, ...], *strides: tuple[int, ...]) -> tuple[tuple, tuple]:
    """(shape, per-operand strides) with extent-1 dims dropped and mergeable dims joined;
    at least one dimension (a single element gets shape (1,) and unit strides)."""
    dims = [d for d, s in enumerate(shape) if s != 1]
    merged_shape: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for d in dims:
        if merged_shape and all(st[-1] == s[d] * shape[d] for st, s in zip(merged, strides)):
            merged_shape[-1] *= shape[d]
            for st, s in zip(merged, strides):
                st[-1] = s[d]
            continue
        merged_shape.append(shape[d])
        for st, s in zip(merged, strides):
            st.append(s[d])
    if not merged_shape:
        return (1,), tuple((1,) for _ in strides)
    return tuple(merged_shape), tuple(tuple(st) for st in merged)


def make(shape: tuple[int, ...], *strides: tuple[int, ...]) -> ctypes.Structure:
    """The pg::Layout<len(strides)> of the merged layout (cached; kernels only read it)."""
    key = (shape, strides)
    try:
        return _MERGED[key]
    except KeyError:
        pass
    except TypeError:
        key = None
    mshape, mstrides = merge(tuple(shape), *(tuple(s) for s in strides))
    if len(mshape) > MAXD:
        raise ValueError(
            f"cuda: shape {tuple(shape)} with strides {strides} has {len(mshape)} dimensions "
            f"that do not merge; the kernels take at most {MAXD} (make the operand compact "
            "first with .contiguous())"
        )
    layout = layout_class(len(strides))()
    layout.nd = len(mshape)
    for d, extent in enumerate(mshape):
        layout.shape[d] = extent
    for k, st in enumerate(mstrides):
        for d, value in enumerate(st):
            layout.strides[k][d] = value
    if key is not None:
        if len(_MERGED) >= _CACHE_MAX:
            _MERGED.clear()
        _MERGED[key] = layout
    return layout
