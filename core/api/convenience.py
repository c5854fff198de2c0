"""torch's conveniences on Tensor: new_* factories that take the tensor's dtype and device,
layout queries (stride, storage_offset, is_contiguous, element_size, nbytes), t(), type_as,
and format() of one-element tensors (f"{loss:.3f}")."""

from __future__ import annotations

from typing import Any

from .. import arguments
from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..backend.registry import get_device
from ..backend.validation import has_compact_strides
from ..ndarray import NDArray
from ..shapes import normalize_axis
from .registry import export


def _new(self: Tensor, fn: str, size: tuple, value: Any, dtype: Any, device: Any,
         requires_grad: bool) -> Tensor:  # fmt: skip
    shape = arguments.sizes(fn, size, "size")
    kind = self.dtype if dtype is None else dt.as_dtype(dtype)
    where = self.device if device is None else get_device(device)
    array = NDArray.empty(shape, kind, where) if value is None else NDArray.full(
        shape, value, kind, where)  # fmt: skip
    out = Tensor._wrap(array)
    return out.requires_grad_(True) if requires_grad else out


@export(function=False)
def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Zeros of `size`, with this tensor's dtype and device unless given."""
    return _new(self, "new_zeros", size, 0, dtype, device, requires_grad)


@export(function=False)
def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    return _new(self, "new_ones", size, 1, dtype, device, requires_grad)


@export(function=False)
def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uninitialised values of `size`."""
    return _new(self, "new_empty", size, None, dtype, device, requires_grad)


@export(function=False)
def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    return _new(self, "new_full", (size,), fill_value, dtype, device, requires_grad)


@export(function=False)
def new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:  # fmt: skip
    """A copy of `data` (no graph), with this tensor's dtype and device unless given."""
    if isinstance(data, Tensor):
        data = data.detach()
    return Tensor(data, dtype=self.dtype if dtype is None else dtype,
                  device=self.device if device is None else device,
                  requires_grad=requires_grad)  # fmt: skip


@export(function=False)
def type_as(self: Tensor, tensor: Tensor) -> Tensor:
    """This tensor cast to `tensor`'s dtype (differentiable)."""
    return self.astype(tensor.dtype)


@export(function=False)
def is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    """Row-major strides (any on a size-1 dim, any offset); memory_format is accepted and
    ignored (plugrad has one layout)."""
    return has_compact_strides(self.shape, self.array.strides)


@export(function=False)
def stride(self: Tensor, dim: int | None = None) -> tuple[int, ...] | int:
    """Strides in elements: all of them, or dim's."""
    strides = tuple(self.array.strides)
    return strides if dim is None else strides[normalize_axis(dim, self.ndim)]


@export(function=False)
def storage_offset(self: Tensor) -> int:
    return self.array.offset


@export(function=False)
def element_size(self: Tensor) -> int:
    return self.dtype.itemsize


Tensor.nbytes = property(lambda self: self.numel() * self.dtype.itemsize)  # type: ignore[attr-defined]
Tensor.itemsize = property(lambda self: self.dtype.itemsize)  # type: ignore[attr-defined]


@export
def t(input: Tensor) -> Tensor:  # noqa: A002
    """The transpose of a matrix; 0-d and 1-D tensors are returned as they are."""
    if input.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with at most 2 dimensions, got {input.ndim}; use .mT or "
            ".transpose(dim0, dim1)"
        )
    return input.transpose(0, 1) if input.ndim == 2 else input


def _restrided_in_place(self: Tensor, name: str, view: Tensor) -> Tensor:
    """self takes the strides of `view` (a view of self): t_(), swapaxes_(), transpose_()."""
    if self.requires_grad or self._base is not None:
        raise RuntimeError(
            f"{name}() changes a tensor's strides in place, which autograd and views do not "
            f"track here; use .{name[:-1]}() instead"
        )
    self.array = view.array
    return self


def _t_(self: Tensor) -> Tensor:
    """In-place t(): this tensor becomes its transpose (a change of strides, no copy)."""
    return _restrided_in_place(self, "t_", t(self))


def _swapaxes_(self: Tensor, axis0: int, axis1: int) -> Tensor:
    """In-place swapaxes(axis0, axis1): a change of strides, no copy."""
    return _restrided_in_place(self, "swapaxes_", self.transpose(axis0, axis1))


def _transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """In-place transpose(dim0, dim1): a change of strides, no copy."""
    return _restrided_in_place(self, "transpose_", self.transpose(dim0, dim1))


Tensor.t_ = _t_  # type: ignore[attr-defined]
Tensor.swapaxes_ = _swapaxes_  # type: ignore[attr-defined]
Tensor.transpose_ = _transpose_  # type: ignore[attr-defined]


@export(method=False)
def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:  # noqa: A002
    """A copy that stays in the graph (memory_format accepted and ignored)."""
    return input.clone()


def _format(self: Tensor, spec: str) -> str:
    if self.numel() == 1 and self.ndim == 0:
        return format(self.item(), spec)
    if not spec:
        return repr(self)
    raise TypeError(
        f"unsupported format string {spec!r} for a tensor of shape {self.shape}: only 0-d "
        "tensors format as numbers (use .item())"
    )


Tensor.__format__ = _format  # type: ignore[method-assign]
