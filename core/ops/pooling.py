"""Max pooling over (N, C, H, W) as one node, without index tables.

The forward copies the windows' taps into (KH * KW, N, C, OH, OW) once, takes each window's
first maximum's tap (argmax) and the maximum itself (max; both take the first NaN, as torch).
The backward builds (KH * KW, N, C, OH, OW) gradient taps as `where(tap == argmax, g, 0)` in
one pass and writes them back through the windows view of a zero input gradient: one strided
assignment when the windows do not overlap (stride >= kernel, no dilation), else one add per
kernel offset (within one offset no two windows collide). When the windows tile the input
exactly (stride == kernel, the sizes multiples of it: the usual 2 x 2 pool) the taps are
copied into the input gradient viewed as (N, C, OH, KH, OW, KW), with no zero fill. The
backward is itself an op, linear in the gradient, whose own gradient takes each window's
argmax tap (second derivatives).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import dtypes as dt
from ..ndarray import NDArray
from .base import Op
from .windows import _window_layout

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

Pair = tuple[int, int]


class _Geometry:
    """The windows of an (N, C, H, W) input: kernel, stride, dilation, the (OH, OW) windows
    kept, and each window's argmax tap (1, N, C, OH, OW) int64, set by the forward."""

    def __init__(self, kernel: Pair, stride: Pair, dilation: Pair, out: Pair) -> None:
        self.kernel, self.stride, self.dilation, self.out = kernel, stride, dilation, out
        self.taps = kernel[0] * kernel[1]
        self.argmax: NDArray | None = None
        self.x_shape: tuple[int, ...] = ()
        self.dtype: dt.DType | None = None

    def view(self, x: NDArray) -> NDArray:
        """x's (N, C, OH, OW, KH, KW) windows, a strided view (the first OH x OW windows)."""
        shape, strides = _window_layout(x.shape, x.strides, self.kernel, self.stride, self.dilation)
        shape = (*shape[:-4], *self.out, *shape[-2:])
        return x._view(shape, strides, x.offset)

    def tap_major(self, x: NDArray) -> NDArray:
        """A compact copy of x's window taps, taps first: (KH * KW, N, C, OH, OW) (the
        reductions over the taps then run over the outer axis, the inner ones contiguous)."""
        view = self.view(x)
        order = (view.ndim - 2, view.ndim - 1, *range(view.ndim - 2))
        return view.permute(order).reshape(self.taps, *view.shape[:-2])

    def tiles(self) -> bool:
        """Whether the windows tile the whole input exactly (stride == kernel, no dilation,
        OH * KH == H, OW * KW == W): the input then is an (N, C, OH, KH, OW, KW) view."""
        return (
            self.dilation == (1, 1)
            and self.stride == self.kernel
            and self.x_shape[-2:] == (self.out[0] * self.kernel[0], self.out[1] * self.kernel[1])
        )

    def overlapping(self) -> bool:
        return self.dilation != (1, 1) or any(s < k for s, k in zip(self.stride, self.kernel))

    def take(self, y: NDArray) -> NDArray:
        """y's value at each window's argmax tap: (N, C, OH, OW)."""
        taps = self.tap_major(y)
        out = NDArray.empty((1, *taps.shape[1:]), y.dtype, y.device)
        y.backend.gather(taps.strided(), 0, self.argmax.strided(), out.strided())
        return out.reshape(*taps.shape[1:])

    def scatter(self, g: NDArray) -> NDArray:
        """The input-shaped array holding each g at its window's argmax tap (summed where
        windows overlap), zeros elsewhere."""
        if g.dtype is not self.dtype:  # e.g. a float64 gradient into a float32 pool
            g = g.astype(self.dtype)
        index = self.argmax
        taps = NDArray.from_numpy(np.arange(self.taps, dtype=np.int64), g.device, dt.int64)
        shape = (self.taps, *index.shape[1:])
        hit = index.binary("eq", taps.reshape(self.taps, *(1,) * (index.ndim - 1)))
        zero = NDArray.full((), 0, g.dtype, g.device)._broadcast_view(shape)
        spread = g.reshape(1, *g.shape)._broadcast_view(shape)
        if self.tiles():  # every input element is one window's tap: written once, in place
            (kh, kw), (oh, ow) = self.kernel, self.out
            lead = len(self.x_shape) - 2
            out = NDArray.empty(self.x_shape, g.dtype, g.device)
            tiled = out.reshape(*self.x_shape[:-2], oh, kh, ow, kw)
            # (KH, KW, lead..., OH, OW): the taps' order, a view of out
            taps_first = tiled.permute(lead + 1, lead + 3, *range(lead), lead, lead + 2)
            tap_shape = (kh, kw, *shape[1:])
            g.backend.where(hit.reshape(tap_shape).strided(),
                            spread._view(tap_shape, (0, 0, *spread.strides[1:]), spread.offset)
                            .strided(), zero._view(tap_shape, (0,) * len(tap_shape), zero.offset)
                            .strided(), taps_first.strided())  # fmt: skip
            return out
        grads = NDArray.empty(shape, g.dtype, g.device)  # (T, N, C, OH, OW)
        g.backend.where(hit.strided(), spread.strided(), zero.strided(), grads.strided())
        out = NDArray.full(self.x_shape, 0, g.dtype, g.device)
        view = self.view(out)  # (N, C, OH, OW, KH, KW), its taps first as grads are
        places = view.permute((view.ndim - 2, view.ndim - 1, *range(view.ndim - 2)))
        grads = grads.reshape(places.shape)
        if not self.overlapping():
            places.assign_(grads)
            return out
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                target = places.slice_view((i, j))
                target.assign_(target.binary("add", grads.slice_view((i, j))))
        return out


class MaxPool2d(Op):
    """(N, C, H, W) (already padded) -> (N, C, OH, OW) window maxima."""

    saved = ()

    def __init__(self, kernel: Pair, stride: Pair, dilation: Pair, out: Pair) -> None:
        self.geometry = _Geometry(kernel, stride, dilation, out)

    @property
    def name(self) -> str:
        return "max_pool2d"

    def compute(self, x: NDArray) -> NDArray:
        geometry = self.geometry
        taps = geometry.tap_major(x)  # the one copy
        geometry.argmax = taps.arg_reduce("argmax", 0, True)  # (1, N, C, OH, OW)
        geometry.x_shape, geometry.dtype = x.shape, x.dtype
        return taps.reduce("max", (0,), False)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return MaxPool2dBackward(self.geometry)(g)


class MaxPool2dBackward(Op):
    """g (N, C, OH, OW) -> the input gradient: g at each window's argmax tap."""

    saved = ()

    def __init__(self, geometry: _Geometry) -> None:
        self.geometry = geometry

    @property
    def name(self) -> str:
        return "max_pool2d_backward"

    def compute(self, g: NDArray) -> NDArray:
        return self.geometry.scatter(g)

    def gradient(self, gg: Tensor, node: Tensor) -> Tensor:
        return MaxPool2dTake(self.geometry)(gg)


class MaxPool2dTake(Op):
    """y (N, C, H, W) -> (N, C, OH, OW): y at each window's argmax tap (the adjoint of
    MaxPool2dBackward)."""

    saved = ()

    def __init__(self, geometry: _Geometry) -> None:
        self.geometry = geometry

    @property
    def name(self) -> str:
        return "max_pool2d_take"

    def compute(self, y: NDArray) -> NDArray:
        return self.geometry.take(y)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return MaxPool2dBackward(self.geometry)(g)
