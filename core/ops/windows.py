"""Sliding windows as a strided view, and its adjoint (overlap-add, the col2im of fold).

`windows(x, kernel, stride, dilation)` of an (*, H, W) array is an (*, OH, OW, KH, KW) view
over x's own buffer: the output axes step by stride * the row/column stride, the kernel axes
by dilation * the same, so neighbouring windows overlap in memory and nothing is copied. Pools
reduce the two kernel axes of that view; unfold reshapes it into im2col's columns. The
gradient (and fold) adds each window back onto its place: KH * KW strided adds, each a plain
elementwise kernel on every backend, since within one kernel offset no two windows collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

Pair = tuple[int, int]


def window_count(size: int, kernel: int, stride: int, dilation: int) -> int:
    """How many whole windows of `kernel` taps, `dilation` apart, fit at `stride` in `size`."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _window_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], kernel: Pair, stride: Pair, dilation: Pair
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shape and strides of the (*, OH, OW, KH, KW) view of an (*, H, W) layout."""
    h, w = shape[-2:]
    sh, sw = strides[-2:]
    oh = window_count(h, kernel[0], stride[0], dilation[0])
    ow = window_count(w, kernel[1], stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(
            f"sliding windows: input {shape} is smaller than the kernel {kernel} with dilation "
            f"{dilation}; pad the input or use a smaller kernel"
        )
    view_shape = (*shape[:-2], oh, ow, *kernel)
    view_strides = (
        *strides[:-2], sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1]
    )  # fmt: skip
    return view_shape, view_strides


class Windows(Op):
    """(*, H, W) -> (*, OH, OW, KH, KW), a view with overlapping strides (no copy)."""

    saved = ()

    def __init__(self, kernel: Pair, stride: Pair, dilation: Pair) -> None:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation

    @property
    def name(self) -> str:
        return "windows"

    def compute(self, x: NDArray) -> NDArray:
        if x.ndim < 2:
            raise ValueError(f"sliding windows need an (*, H, W) input, got shape {x.shape}")
        shape, strides = _window_layout(x.shape, x.strides, self.kernel, self.stride, self.dilation)
        return x._view(shape, strides, x.offset)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        return OverlapAdd(x.shape[-2:], self)(g)


class OverlapAdd(Op):
    """(*, OH, OW, KH, KW) -> (*, H, W): every window added back onto the place `Windows`
    took it from (zeros where no window reaches): the adjoint of Windows, and fold's core."""

    saved = ()

    def __init__(self, size: Pair, windows: Windows) -> None:
        self.size, self.windows = tuple(size), windows

    @property
    def name(self) -> str:
        return "overlap_add"

    def compute(self, g: NDArray) -> NDArray:
        kernel = self.windows.kernel
        if g.ndim < 4 or g.shape[-2:] != kernel:
            raise ValueError(
                f"overlap_add expects (*, OH, OW, {kernel[0]}, {kernel[1]}) windows, got {g.shape}"
            )
        out = NDArray.full((*g.shape[:-4], *self.size), 0, g.dtype, g.device)
        shape, strides = _window_layout(
            out.shape, out.strides, kernel, self.windows.stride, self.windows.dilation
        )
        if shape[:-2] != g.shape[:-2]:
            raise ValueError(
                f"overlap_add: {g.shape[-4:-2]} windows do not tile an output of size "
                f"{self.size} with kernel {kernel}, stride {self.windows.stride} and dilation "
                f"{self.windows.dilation}; expected {shape[-4:-2]} windows"
            )
        places = out._view(shape, strides, out.offset)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                target = places.slice_view((..., i, j))
                target.assign_(target.binary("add", g.slice_view((..., i, j))))
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return self.windows(g)


def windows(x: Tensor, kernel: Pair, stride: Pair = (1, 1), dilation: Pair = (1, 1)) -> Tensor:
    """(*, H, W) -> (*, OH, OW, KH, KW) sliding windows of x, a view of x's memory."""
    return Windows(tuple(kernel), tuple(stride), tuple(dilation))(x)  # type: ignore[arg-type]


def overlap_add(
    g: Tensor, size: Pair, stride: Pair = (1, 1), dilation: Pair = (1, 1)
) -> Tensor:  # fmt: skip
    """(*, OH, OW, KH, KW) -> (*, H, W): the windows summed back where they lie."""
    kernel = tuple(g.shape[-2:])
    op = Windows(kernel, tuple(stride), tuple(dilation))  # type: ignore[arg-type]
    return OverlapAdd(size, op)(g)
