"""F.interpolate (nearest, bilinear, linear) as matmuls with constant resampling matrices.

Both modes are separable: out = A @ x @ B^T with A (OH, H) and B (OW, W), each row holding
the one (nearest) or two (linear) source taps of an output pixel with their weights, computed
as torch computes the source coordinates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from plugrad.autograd.tensor import Tensor

_MODES = ("nearest", "linear", "bilinear")


def _matrix(size: int, out: int, scale: float | None, mode: str, align_corners: bool) -> np.ndarray:
    """(out, size) resampling matrix; `scale` is the user's scale_factor when given (torch
    then maps with 1 / scale_factor rather than size / out)."""
    m = np.zeros((out, size))
    dst = np.arange(out)
    if mode == "nearest":
        ratio = np.float32(1.0 / scale if scale else size / out)  # torch computes in float
        src = np.minimum(np.floor(dst.astype(np.float32) * ratio).astype(np.int64), size - 1)
        m[dst, src] = 1.0
        return m
    if align_corners:
        src = dst * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        ratio = 1.0 / scale if scale else size / out
        src = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    frac = src - low
    np.add.at(m, (dst, low), 1.0 - frac)
    np.add.at(m, (dst, high), frac)
    return m


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,  # noqa: A002
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L) with 'nearest'/'linear' or (N, C, H, W) with 'nearest'/'bilinear'
    to `size` or by `scale_factor`, as torch.nn.functional.interpolate. recompute_scale_factor
    maps coordinates by the computed size rather than the given factor; no antialias."""
    if antialias:
        raise ValueError("interpolate(): antialias=True is not available; use antialias=False")
    if mode not in _MODES:
        raise ValueError(f"interpolate(): mode must be one of {_MODES}, got {mode!r}")
    spatial = input.ndim - 2
    if (
        spatial not in (1, 2)
        or (mode == "bilinear" and spatial != 2)
        or (mode == "linear" and spatial != 1)
    ):
        raise ValueError(
            f"interpolate(): mode {mode!r} does not take input of shape {input.shape}; use "
            "(N, C, L) with 'nearest'/'linear' or (N, C, H, W) with 'nearest'/'bilinear'"
        )
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate(): align_corners only applies to 'linear'/'bilinear'")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate(): give exactly one of size and scale_factor")
    as_list = lambda v: list(v) if isinstance(v, (tuple, list)) else [v] * spatial  # noqa: E731
    in_sizes = input.shape[2:]
    if size is not None:
        outs, scales = [int(v) for v in as_list(size)], [None] * spatial
    else:
        scales = [float(v) for v in as_list(scale_factor)]
        outs = [int(math.floor(n * f)) for n, f in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * spatial
    if len(outs) != spatial or min(outs) < 1:
        raise ValueError(f"interpolate(): output size {outs} must give {spatial} sizes >= 1")
    mats = [
        Tensor(_matrix(n, o, f, mode, bool(align_corners)), dtype=input.dtype, device=input.device)
        for n, o, f in zip(in_sizes, outs, scales)
    ]
    out = input @ mats[-1].transpose(0, 1)
    if spatial == 2:
        out = mats[0] @ out
    return out
