"""torch.gather along an axis, and its adjoint scatter_add."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import dtypes as dt
from ..ndarray import NDArray
from ..shapes import normalize_axis
from .base import Op

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor


def check_index(x_shape: tuple[int, ...], axis: int, index: NDArray) -> None:
    """Validate a gather/scatter index: int64, same ndim, in range on `axis` (one host sync)."""
    if index.dtype is not dt.int64:
        raise TypeError(f"gather/scatter index must be int64, got {index.dtype.name}")
    if index.ndim != len(x_shape):
        raise ValueError(
            f"index of shape {index.shape} must have as many dimensions as the input {x_shape}"
        )
    for i, (n, m) in enumerate(zip(index.shape, x_shape)):
        if i != axis and n > m:
            raise ValueError(f"index shape {index.shape} exceeds input shape {x_shape} on axis {i}")
    if index.size:
        low, high = index.reduce("min").item(), index.reduce("max").item()
        if low < 0 or high >= x_shape[axis]:
            bad = low if low < 0 else high
            raise IndexError(
                f"index {bad} is out of bounds for axis {axis} with size {x_shape[axis]}"
            )


class Gather(Op):
    """out[i][j] = x[i][index[i][j]] for axis 1 (index is an input without gradient)."""

    saved = (1,)

    def __init__(self, axis: int, checked: bool = False) -> None:
        self.axis = axis
        self.checked = checked  # the index was validated by the op this one differentiates

    def compute(self, x: NDArray, index: NDArray) -> NDArray:
        x._same_device(index)
        axis = normalize_axis(self.axis, x.ndim)
        if not self.checked:
            check_index(x.shape, axis, index)
        out = NDArray.empty(index.shape, x.dtype, x.device)
        # gather only reads x where index's extent reaches, so a view of x that large suffices
        window = x.slice_view(tuple(slice(0, n) if i != axis else slice(None)
                                    for i, n in enumerate(index.shape)))  # fmt: skip
        x.backend.gather(window.strided(), axis, index.strided(), out.strided())
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[Tensor, None]:
        x, index = node._inputs
        return ScatterAdd(self.axis, x.shape, checked=True)(index, g), None


class ScatterAdd(Op):
    """zeros(shape) with src added at index along axis; the adjoint of Gather."""

    saved = (0,)

    def __init__(self, axis: int, shape: tuple[int, ...], checked: bool = False) -> None:
        self.axis, self.shape, self.checked = axis, shape, checked

    def compute(self, index: NDArray, src: NDArray) -> NDArray:
        axis = normalize_axis(self.axis, len(self.shape))
        if not self.checked:
            check_index(self.shape, axis, index)
        out = NDArray.full(self.shape, 0, src.dtype, src.device)
        window = out.slice_view(tuple(slice(0, n) if i != axis else slice(None)
                                      for i, n in enumerate(index.shape)))  # fmt: skip
        src = src.slice_view(tuple(slice(0, n) for n in index.shape))
        src.backend.scatter_add(window.strided(), axis, index.strided(), src.strided())
        return out

    def gradient(self, g: Tensor, node: Tensor) -> tuple[None, Tensor]:
        index, _ = node._inputs
        return None, Gather(self.axis, checked=True)(g, index)
