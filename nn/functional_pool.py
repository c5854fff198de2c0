"""Max, average and adaptive pooling over (N, C, H, W) or (C, H, W), as torch's functions.

max_pool2d and avg_pool2d reduce a strided view of sliding windows (plugrad.ops.windows); max
keeps the first maximum's index, so the gradient goes there, as in torch. Adaptive pools have
windows of varying size: the average is two matmuls with constant pooling matrices (it is
separable), the maximum a gather of an index table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from plugrad import arguments
from plugrad.autograd.tensor import Tensor, gather, pad
from plugrad.ops.pooling import MaxPool2d
from plugrad.ops.windows import windows

from .functional_conv import _batched, _pair

Pair = tuple[int, int]


def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output size; in ceil mode the last window must start inside the
    input or its left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pooled_windows(fn: str, x: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, ceil_mode: bool,
                    fill: float) -> tuple[Tensor, Pair]:  # fmt: skip
    """x padded with `fill` (and past the right/bottom edge in ceil mode), as its
    (N, C, OH, OW, KH, KW) windows view; and the input's (H, W)."""
    x, out, size = _padded(fn, x, k, s, p, d, ceil_mode, fill)
    view = windows(x, k, s, d)[:, :, : out[0], : out[1]]
    return view, size  # type: ignore[return-value]


def _padded(fn: str, x: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, ceil_mode: bool,
            fill: float) -> tuple[Tensor, list[int], Pair]:  # fmt: skip
    """x padded with `fill` (and past the right/bottom edge in ceil mode), the pooled (OH, OW)
    and the input's (H, W)."""
    size = x.shape[-2:]
    for i in range(2):
        if p[i] * 2 > d[i] * (k[i] - 1) + 1:
            raise ValueError(
                f"{fn}(): padding {p} must be at most half the effective kernel size (kernel "
                f"{k}, dilation {d})"
            )
    out = [_pool_size(size[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(2)]
    if min(out) <= 0:
        raise ValueError(f"{fn}(): input {x.shape} is too small for kernel {k} with padding {p}")
    after = [
        max(p[i], (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size[i] - p[i]) for i in range(2)
    ]
    if any(p) or any(after):
        x = pad(x, (p[1], after[1], p[0], after[0]), value=fill)
    return x, out, size  # type: ignore[return-value]


def _pool_args(fn: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any):
    k = _pair(fn, "kernel_size", kernel_size, 1)
    s = k if stride is None or stride == [] or stride == () else _pair(fn, "stride", stride, 1)
    return k, s, _pair(fn, "padding", padding, 0), _pair(fn, "dilation", dilation, 1)


def _positions(oh: int, ow: int, k: Pair, s: Pair, p: Pair, d: Pair, width: int) -> np.ndarray:
    """(OH, OW, KH * KW) flat input index h * W + w of every tap of every window."""
    h = np.arange(oh)[:, None] * s[0] - p[0] + np.arange(k[0])[None, :] * d[0]  # (OH, KH)
    w = np.arange(ow)[:, None] * s[1] - p[1] + np.arange(k[1])[None, :] * d[1]  # (OW, KW)
    flat = h[:, None, :, None] * width + w[None, :, None, :]  # (OH, OW, KH, KW)
    return flat.reshape(oh, ow, -1)


def _max_of_taps(taps: Tensor, table: np.ndarray | None, unbatched: bool) -> Any:
    """Max over the last axis of (N, C, OH, OW, T); with `table` (OH, OW, T) of input
    positions, also the position of each maximum (the first one, as torch)."""
    values, which = taps.max(dim=-1, keepdim=True)
    values = values.squeeze(-1)
    if unbatched:
        values = values.squeeze(0)
    if table is None:
        return values
    places = Tensor(table.astype(np.int64), device=taps.device).broadcast_to(taps.shape)
    indices = gather(places, -1, which).squeeze(-1)
    return values, indices.squeeze(0) if unbatched else indices


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """(N, C, H, W) -> (N, C, OH, OW) window maxima; with return_indices also the flat
    h * W + w index of each maximum in its (H, W) plane, as torch (for max_unpool)."""
    fn = "max_pool2d"
    x, unbatched = _batched(fn, input)
    k, s, p, d = _pool_args(fn, kernel_size, stride, padding, dilation)
    if not return_indices and x.dtype.is_floating:  # one node, no index tables
        padded, out, _ = _padded(fn, x, k, s, p, d, ceil_mode, -math.inf)
        pooled = MaxPool2d(k, s, d, tuple(out))(padded)  # type: ignore[arg-type]
        return pooled.squeeze(0) if unbatched else pooled
    view, (_, width) = _pooled_windows(fn, x, k, s, p, d, ceil_mode, -math.inf)
    n, c, oh, ow = view.shape[:4]
    taps = view.reshape(n, c, oh, ow, k[0] * k[1])  # the one copy: max needs one taps axis
    table = _positions(oh, ow, k, s, p, d, width) if return_indices else None
    return _max_of_taps(taps, table, unbatched)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    """(N, C, H, W) -> (N, C, OH, OW) window means. The divisor is divisor_override, else the
    window's taps inside the padded input (count_include_pad) or inside the input itself."""
    fn = "avg_pool2d"
    x, unbatched = _batched(fn, input)
    k, s, p, d = _pool_args(fn, kernel_size, stride, padding, 1)
    if divisor_override is not None:
        divisor_override = arguments.integer(fn, "divisor_override", divisor_override, minimum=1)
    view, (h, w) = _pooled_windows(fn, x, k, s, p, d, ceil_mode, 0.0)
    oh, ow = view.shape[2:4]
    total = view.sum(dim=(-2, -1))  # a reduction over the strided view: no copy
    if divisor_override is not None:
        out = total * (1.0 / divisor_override)
    else:
        counts = []
        for size, o, kk, ss, pp in zip((h, w), (oh, ow), k, s, p):
            start = np.arange(o) * ss - pp
            end = np.minimum(start + kk, size + pp)
            if count_include_pad:
                counts.append(end - start)
            else:
                counts.append(np.minimum(end, size) - np.maximum(start, 0))
        scale = 1.0 / (counts[0][:, None] * counts[1][None, :]).astype(np.float64)
        out = total * Tensor(scale, dtype=x.dtype, device=x.device)
    return out.squeeze(0) if unbatched else out


def _adaptive_sizes(fn: str, x: Tensor, output_size: Any) -> Pair:
    items = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size] * 2
    if len(items) != 2:
        raise ValueError(f"{fn}(): output_size must be an int or a pair, got {output_size!r}")
    sizes = [x.shape[-2 + i] if v is None else v for i, v in enumerate(items)]
    return _pair(fn, "output_size", sizes, 1)


def _bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive bins: [floor(i * size / out), ceil((i + 1) * size / out))."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """(N, C, H, W) -> (N, C, *output_size) means over torch's adaptive bins: A @ x @ B^T with
    constant (OH, H) and (OW, W) averaging matrices (the mean over a rectangle is separable)."""
    x, unbatched = _batched("adaptive_avg_pool2d", input)
    out_size = _adaptive_sizes("adaptive_avg_pool2d", x, output_size)
    mats = []
    for size, o in zip(x.shape[-2:], out_size):
        start, end = _bins(size, o)
        m = np.zeros((o, size))
        for r in range(o):
            m[r, start[r] : end[r]] = 1.0 / (end[r] - start[r])
        mats.append(Tensor(m, dtype=x.dtype, device=x.device))
    out = mats[0] @ x @ mats[1].transpose(0, 1)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:  # noqa: A002
    """(N, C, H, W) -> (N, C, *output_size) maxima over torch's adaptive bins, gathered by an
    index table (bins shorter than the longest repeat their first tap, which keeps the max)."""
    x, unbatched = _batched("adaptive_max_pool2d", input)
    oh, ow = _adaptive_sizes("adaptive_max_pool2d", x, output_size)
    h, w = x.shape[-2:]
    (hs, he), (ws, we) = _bins(h, oh), _bins(w, ow)
    kh, kw = int((he - hs).max()), int((we - ws).max())
    rows = np.minimum(hs[:, None] + np.arange(kh)[None, :], he[:, None] - 1)  # (OH, KH)
    cols = np.minimum(ws[:, None] + np.arange(kw)[None, :], we[:, None] - 1)  # (OW, KW)
    table = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, kh * kw)
    n, c = x.shape[:2]
    index = Tensor(table.reshape(-1).astype(np.int64), device=x.device)
    taps = gather(x.reshape(n, c, h * w), 2, index.broadcast_to(n, c, index.shape[0]))
    taps = taps.reshape(n, c, oh, ow, kh * kw)
    return _max_of_taps(taps, table if return_indices else None, unbatched)
