"""Shape ops: views where strides allow, with gradients that undo them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..indexing import IndexPlan
from ..ndarray import NDArray
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


class Reshape(Op):
    saved = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def compute(self, x: NDArray) -> NDArray:
        return x.reshape(self.shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return g.reshape(node._inputs[0].shape)


class Permute(Op):
    saved = ()

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def compute(self, x: NDArray) -> NDArray:
        return x.permute(self.axes)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        inverse = tuple(int(i) for i in np.argsort([a % max(node.ndim, 1) for a in self.axes]))
        return g.permute(inverse)


class BroadcastTo(Op):
    saved = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def compute(self, x: NDArray) -> NDArray:
        return x.broadcast_to(self.shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        from .base import unbroadcast

        return unbroadcast(g, node._inputs[0].shape)


class Flip(Op):
    saved = ()

    def __init__(self, axes: object) -> None:
        self.axes = axes

    def compute(self, x: NDArray) -> NDArray:
        return x.flip(self.axes)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return g.flip(self.axes)


class BasicIndex(Op):
    """x[ints, slices, None, Ellipsis]: a view."""

    saved = ()

    def __init__(self, key: tuple) -> None:
        self.key = key

    @property
    def name(self) -> str:
        return "getitem"

    def compute(self, x: NDArray) -> NDArray:
        return x.slice_view(self.key)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (x,) = node._inputs
        return IndexPut(x.shape, self.key)(g)


class IndexPut(Op):
    """The adjoint of basic indexing: zeros of `shape` with the input written at `key`."""

    saved = ()

    def __init__(self, shape: tuple[int, ...], key: tuple) -> None:
        self.shape, self.key = shape, key

    def compute(self, g: NDArray) -> NDArray:
        out = NDArray.full(self.shape, 0, g.dtype, g.device)
        out.slice_view(self.key).assign_(g)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return BasicIndex(self.key)(g)


class AdvancedIndex(Op):
    """x[integer arrays / boolean masks, ...]: gather, with scatter_add as its gradient."""

    saved = ()

    def __init__(self, plan: IndexPlan) -> None:
        self.plan = plan

    @property
    def name(self) -> str:
        return "getitem"

    def compute(self, x: NDArray) -> NDArray:
        return self.plan.gather(x)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return IndexAdd(self.plan)(g)


class IndexAdd(Op):
    """The adjoint of advanced indexing: zeros with the input added at the plan's positions."""

    saved = ()

    def __init__(self, plan: IndexPlan) -> None:
        self.plan = plan

    def compute(self, g: NDArray) -> NDArray:
        return self.plan.scatter_add(g)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return AdvancedIndex(self.plan)(g)


class Cat(Op):
    """Concatenate along an existing axis."""

    saved = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def compute(self, *arrays: NDArray) -> NDArray:
        first = arrays[0]
        axis = self.axis
        for a in arrays[1:]:
            first._same_device(a)
            if a.ndim != first.ndim or any(
                d != e for i, (d, e) in enumerate(zip(a.shape, first.shape)) if i != axis
            ):
                raise ValueError(
                    f"cat: shapes {[x.shape for x in arrays]} differ outside axis {axis}"
                )
        from .. import dtypes as dt

        dtype = first.dtype
        for a in arrays[1:]:
            dtype = dt.promote(dtype, a.dtype)
        shape = list(first.shape)
        shape[axis] = sum(a.shape[axis] for a in arrays)
        out = NDArray.empty(tuple(shape), dtype, first.device)
        start = 0
        for a in arrays:
            key = (slice(None),) * axis + (slice(start, start + a.shape[axis]),)
            out.slice_view(key).assign_(a)
            start += a.shape[axis]
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, ...]:
        grads = []
        start = 0
        for x in node._inputs:
            key = (slice(None),) * self.axis + (slice(start, start + x.shape[self.axis]),)
            grads.append(g[key])
            start += x.shape[self.axis]
        return tuple(grads)


class Pad(Op):
    """Constant padding; `pad` pairs run from the last dimension backwards, as in torch."""

    saved = ()

    def __init__(self, pad: tuple[int, ...], value: float) -> None:
        self.pad, self.value = pad, value

    def _key_and_shape(self, shape: tuple[int, ...]) -> tuple[tuple, tuple[int, ...]]:
        if len(self.pad) % 2 or len(self.pad) // 2 > len(shape):
            raise ValueError(
                f"pad {self.pad} must have an even length of at most 2 * ndim ({2 * len(shape)})"
            )
        new_shape = list(shape)
        key = [slice(None)] * len(shape)
        for i in range(len(self.pad) // 2):
            axis = len(shape) - 1 - i
            before, after = self.pad[2 * i], self.pad[2 * i + 1]
            if before < 0 or after < 0:
                raise ValueError(f"negative padding {self.pad} is not supported")
            new_shape[axis] = shape[axis] + before + after
            key[axis] = slice(before, before + shape[axis])
        return tuple(key), tuple(new_shape)

    def compute(self, x: NDArray) -> NDArray:
        key, shape = self._key_and_shape(x.shape)
        out = NDArray.full(shape, self.value, x.dtype, x.device)
        out.slice_view(key).assign_(x)
        return out

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        key, _ = self._key_and_shape(node._inputs[0].shape)
        return g[key]
