"""Convolutions beyond conv2d, im2col and pooling, as functions (re-exported by F).

Sliding windows are a strided view of the input (plugrad.ops.windows): pools reduce the view's
kernel axes, unfold reshapes it into im2col columns; fold and the pools' gradients add the
windows back. conv_transpose2d is conv2d's input gradient. Adaptive pools and interpolate
use small constant matrices or index tables, so they are matmuls and gathers.
"""

from __future__ import annotations

from typing import Any

from plugrad import arguments
from plugrad.amp.casting import autocast_op
from plugrad.autograd.tensor import Tensor, conv2d, pad
from plugrad.ops.conv import Conv2d, Conv2dBackwardInput
from plugrad.ops.windows import overlap_add, windows

Pair = tuple[int, int]


def _pair(fn: str, name: str, value: Any, minimum: int) -> Pair:
    return arguments.int_tuple(fn, name, value, 2, minimum)  # type: ignore[return-value]


def _batched(fn: str, x: Tensor) -> tuple[Tensor, bool]:
    """(N, C, H, W) as is, (C, H, W) with a batch of one added (unbatched, as torch)."""
    if not isinstance(x, Tensor) or x.ndim not in (3, 4):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{fn}() expects an (N, C, H, W) or (C, H, W) tensor, got {shape}")
    return (x, False) if x.ndim == 4 else (x.unsqueeze(0), True)


@autocast_op("conv1d")
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """(N, C, L) with (O, C/groups, K) weights -> (N, O, OL): conv2d over a height of one."""
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d expects input (N, C, L) and weight (O, C/groups, K), got {input.shape} "
            f"and {weight.shape}"
        )
    one = (lambda v: v) if isinstance(padding, str) else (lambda v: (0, v))
    s = arguments.int_tuple("conv1d", "stride", stride, 1, 1)[0]
    d = arguments.int_tuple("conv1d", "dilation", dilation, 1, 1)[0]
    p = padding if isinstance(padding, str) else arguments.int_tuple(
        "conv1d", "padding", padding, 1, 0, "'same', 'valid', ")[0]  # fmt: skip
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), one(p), (1, d), groups)
    return out.squeeze(2)


@autocast_op("conv_transpose2d")
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:  # fmt: skip
    """(N, Cin, H, W) with (Cin, Cout/groups, KH, KW) weights -> (N, Cout, OH, OW), OH = (H-1)
    * stride - 2 * padding + dilation * (KH-1) + output_padding + 1: conv2d's input gradient."""
    fn = "conv_transpose2d"
    x, unbatched = _batched(fn, input)
    s, p = _pair(fn, "stride", stride, 1), _pair(fn, "padding", padding, 0)
    d, op = _pair(fn, "dilation", dilation, 1), _pair(fn, "output_padding", output_padding, 0)
    groups = arguments.integer(fn, "groups", groups, minimum=1)
    if weight.ndim != 4 or weight.shape[0] != x.shape[1] or x.shape[1] % groups:
        raise ValueError(
            f"{fn}: weight must be (in_channels, out_channels / groups, KH, KW) with "
            f"in_channels = {x.shape[1]} (the input's) divisible by groups ({groups}), got "
            f"{weight.shape}"
        )
    if any(o >= max(a, b) for o, a, b in zip(op, s, d)):
        raise ValueError(
            f"{fn}: output_padding {op} must be smaller than stride {s} or dilation {d}"
        )
    if x.dtype != weight.dtype or not x.dtype.is_floating:
        raise TypeError(f"{fn} needs floating input and weight of one dtype, got {x.dtype.name} "
                        f"and {weight.dtype.name}")  # fmt: skip
    n, _, h, w = x.shape
    kh, kw = weight.shape[2:]
    oh = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    ow = (w - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(
            f"{fn}: padding {p} leaves no output for input {x.shape} and kernel {(kh, kw)}"
        )
    shape = (n, weight.shape[1] * groups, oh, ow)
    out = Conv2dBackwardInput(shape, Conv2d(s, p, d, groups))(x, weight)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
           stride: Any = 1) -> Tensor:  # fmt: skip
    """im2col: (N, C, H, W) -> (N, C * KH * KW, L), L the number of windows."""
    fn = "unfold"
    x, _ = _batched(fn, input)
    k, d = _pair(fn, "kernel_size", kernel_size, 1), _pair(fn, "dilation", dilation, 1)
    p, s = _pair(fn, "padding", padding, 0), _pair(fn, "stride", stride, 1)
    if any(p):
        x = pad(x, (p[1], p[1], p[0], p[0]))
    cols = windows(x, k, s, d)  # (N, C, OH, OW, KH, KW), a view of x
    n, c, oh, ow = cols.shape[:4]
    out = cols.permute(0, 1, 4, 5, 2, 3).reshape(n, c * k[0] * k[1], oh * ow)
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,  # noqa: A002
         padding: Any = 0, stride: Any = 1) -> Tensor:  # fmt: skip
    """col2im, unfold's adjoint: (N, C * KH * KW, L) -> (N, C, H, W), overlaps summed."""
    fn = "fold"
    size, k = _pair(fn, "output_size", output_size, 1), _pair(fn, "kernel_size", kernel_size, 1)
    d, p = _pair(fn, "dilation", dilation, 1), _pair(fn, "padding", padding, 0)
    s = _pair(fn, "stride", stride, 1)
    x = input if input.ndim == 3 else input.unsqueeze(0)
    full = (size[0] + 2 * p[0], size[1] + 2 * p[1])
    oh, ow = ((f - dd * (kk - 1) - 1) // ss + 1 for f, kk, ss, dd in zip(full, k, s, d))
    if x.ndim != 3 or x.shape[1] % (k[0] * k[1]) or x.shape[2] != oh * ow or oh <= 0 or ow <= 0:
        raise ValueError(
            f"fold: input must be (N, C * {k[0] * k[1]}, {max(oh, 0) * max(ow, 0)}) for "
            f"output_size {size}, kernel {k}, stride {s}, padding {p}, dilation {d}; got "
            f"{input.shape}"
        )
    n, c = x.shape[0], x.shape[1] // (k[0] * k[1])
    cols = x.reshape(n, c, k[0], k[1], oh, ow).permute(0, 1, 4, 5, 2, 3)
    out = overlap_add(cols, full, s, d)[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]]
    return out if input.ndim == 3 else out.squeeze(0)
