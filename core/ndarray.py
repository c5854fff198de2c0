"""NDArray: shape, strides, offset and dtype over one backend buffer.

Views (reshape when strides allow, permute, broadcast_to, squeeze/unsqueeze, slicing with any
step, flip) only make new metadata over the same buffer; everything else is one protocol call
on `Strided` views. NDArray has no autograd: `plugrad.Tensor` builds on it.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from . import dtypes as dt
from .backend.protocol import Strided
from .backend.registry import Device, get_device
from .shapes import (
    broadcast_shapes,
    compact_strides,
    normalize_axes,
    normalize_axis,
    prod,
    resolve_reshape,
    view_strides_for_reshape,
)

_new_tuple = tuple.__new__  # builds a Strided without NamedTuple's Python-level __new__
COMPARISONS = frozenset(("eq", "ne", "lt", "le", "gt", "ge"))
LOGICAL = frozenset(("logical_and", "logical_or"))
_BOOL_RESULT = COMPARISONS | LOGICAL  # ops whose result is not the operands' dtype
SHIFTS = frozenset(("bitwise_left_shift", "bitwise_right_shift"))
BITWISE = frozenset(("bitwise_and", "bitwise_or", "bitwise_xor")) | SHIFTS
_NOT_FAST = _BOOL_RESULT | BITWISE  # ops the floating fast paths must not take
FLOAT_ONLY_UNARY = frozenset(("exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "erf"))
_NOT_CANONICAL = (
    "the bool array holds bytes other than 0 and 1 (a uint8 array viewed as bool?): plugrad "
    "copies it, every non-zero byte as True, instead of sharing its memory"
)


class NDArray:
    """A strided n-dimensional array on one device."""

    __slots__ = (
        "device",
        "backend",
        "buffer",
        "shape",
        "strides",
        "offset",
        "dtype",
        "_strided",
        "version",
        "__weakref__",
    )

    def __init__(
        self,
        device: Device,
        buffer: object,
        shape: tuple[int, ...],
        strides: tuple[int, ...],
        offset: int,
        dtype: dt.DType,
        version: list[int] | None = None,
    ) -> None:
        self.device = device
        self.backend = device.backend
        self.buffer = buffer
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.dtype = dtype
        self._strided: Strided | None = None  # made on first use; the metadata never changes
        # The storage's write counter, one list shared by every view of the buffer: each
        # in-place write through a Tensor bumps it (torch's `_version`).
        self.version = [0] if version is None else version

    # --- construction --------------------------------------------------------------------
    @staticmethod
    def empty(shape: tuple[int, ...], dtype: dt.DType, device: Device) -> NDArray:
        """A new compact, uninitialised array."""
        backend = device.backend
        if dtype.name not in backend.dtypes:
            raise _unsupported(device, dtype)
        size = prod(shape)
        buffer = backend.allocate(size, dtype.name)
        version = device.memory.track(buffer, size * dtype.itemsize)
        return NDArray(device, buffer, shape, compact_strides(shape), 0, dtype, version)

    @staticmethod
    def full(shape: tuple[int, ...], value: object, dtype: dt.DType, device: Device) -> NDArray:
        out = NDArray.empty(shape, dtype, device)
        out.backend.fill(out.strided(), _python_scalar(value, dtype))
        return out

    @staticmethod
    def from_numpy(array: np.ndarray, device: Device, dtype: dt.DType | None = None) -> NDArray:
        """Copy a NumPy array onto `device` (dtype: from the array unless given)."""
        dtype = dtype or dt.from_numpy_dtype(array.dtype)
        host = dt.to_host(np.asarray(array), dtype)  # keeps 0-d shape; refuses wrapping values
        if dtype.name not in device.backend.dtypes:
            raise _unsupported(device, dtype)
        buffer = device.backend.from_numpy(host.reshape(-1), copy=True)
        version = device.memory.track(buffer, host.size * dtype.itemsize)
        shape = host.shape
        return NDArray(device, buffer, shape, compact_strides(shape), 0, dtype, version)

    @staticmethod
    def share_numpy(array: np.ndarray, device: Device) -> NDArray:
        """Wrap a NumPy array's memory without copying (host backends only), any strides."""
        dtype = dt.from_numpy_dtype(array.dtype)
        if array.dtype != dtype.numpy or any(s % array.itemsize for s in array.strides):
            raise TypeError(
                f"cannot share the memory of a {array.dtype} array: plugrad stores "
                f"{', '.join(dt.ALL)}; copy-convert with plugrad.tensor(array) instead"
            )
        if dtype.name not in device.backend.dtypes:
            raise _unsupported(device, dtype)
        if dtype is dt.bool_ and dt.canonical_bools(array) is not array:
            warnings.warn(_NOT_CANONICAL, RuntimeWarning, stacklevel=3)
            return NDArray.from_numpy(array, device)
        item = array.itemsize
        strides = tuple(s // item for s in array.strides)
        shape = array.shape
        if prod(shape) == 0:
            return NDArray.empty(shape, dtype, device)
        low = sum(s * (d - 1) for s, d in zip(strides, shape) if s < 0)
        high = sum(s * (d - 1) for s, d in zip(strides, shape) if s > 0)
        base = _flat_span(array, low, high)
        buffer = device.backend.from_numpy(base, copy=False)
        return NDArray(device, buffer, shape, strides, -low, dtype)

    # --- metadata ------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return prod(self.shape)

    def strided(self) -> Strided:
        view = self._strided
        if view is None:
            view = self._strided = _new_tuple(
                Strided, (self.buffer, self.shape, self.strides, self.offset, self.dtype.name)
            )
        return view

    def is_compact(self) -> bool:
        return self.offset == 0 and self.strides == compact_strides(self.shape) or self.size == 0

    def _view(self, shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> NDArray:
        return NDArray(self.device, self.buffer, shape, strides, offset, self.dtype, self.version)

    def __repr__(self) -> str:
        return f"NDArray({self.numpy()!r}, device='{self.device.name}')"

    # --- host interop --------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The elements as NumPy: a view on host backends (shares memory), else a copy."""
        return np.asarray(self.backend.to_numpy(self.strided())).view(self.dtype.numpy)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        array = self.numpy()
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> float | int | bool:
        if self.size != 1:
            raise ValueError(f"item() needs exactly one element, this array has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def to(self, device: object) -> NDArray:
        """A copy on `device` (self when already there)."""
        target = get_device(device)
        if target is self.device:
            return self
        if self.dtype.name not in target.backend.dtypes:
            raise TypeError(f"device {target.name!r} does not support dtype {self.dtype.name}")
        return NDArray.from_numpy(self.numpy(), target, self.dtype)

    # --- copies and assignment -----------------------------------------------------------
    def compact(self) -> NDArray:
        """Self if already compact, else a compact copy."""
        if self.is_compact():
            return self
        out = NDArray.empty(self.shape, self.dtype, self.device)
        self.backend.compact(self.strided(), out.strided())
        return out

    def copy(self) -> NDArray:
        out = NDArray.empty(self.shape, self.dtype, self.device)
        self.backend.compact(self.strided(), out.strided())
        return out

    def astype(self, dtype: object) -> NDArray:
        dtype = dt.as_dtype(dtype)
        if dtype is self.dtype:
            return self
        out = NDArray.empty(self.shape, dtype, self.device)
        self.backend.cast(self.strided(), out.strided())
        return out

    def fill_(self, value: object) -> NDArray:
        self.backend.fill(self.strided(), _python_scalar(value, self.dtype))
        return self

    def assign_(self, source: NDArray | float | int | bool) -> NDArray:
        """Write `source` (broadcast, cast) into this view in place."""
        if not isinstance(source, NDArray):
            return self.fill_(source)
        self._same_device(source)
        source = source.astype(self.dtype).broadcast_to(self.shape)
        if _may_overlap(source, self):
            source = source.copy()
        self.backend.assign(source.strided(), self.strided())
        return self

    # --- views ---------------------------------------------------------------------------
    def reshape(self, *shape: object) -> NDArray:
        """A view when strides allow, else a compact copy reshaped."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        new_shape = resolve_reshape(self.size, tuple(int(d) for d in shape), self.shape)
        if new_shape == self.shape:
            return self
        if self.strides == compact_strides(self.shape):  # row-major: the new shape's own strides
            return self._view(new_shape, compact_strides(new_shape), self.offset)
        strides = view_strides_for_reshape(self.shape, self.strides, new_shape)
        if strides is None:
            return self.copy().reshape(new_shape)
        return self._view(new_shape, strides, self.offset)

    def permute(self, *axes: object) -> NDArray:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) != self.ndim:
            raise ValueError(f"permute needs {self.ndim} axes for shape {self.shape}, got {axes}")
        order = [normalize_axis(a, self.ndim) for a in axes]  # type: ignore[arg-type]
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(f"permute axes {axes} are not a permutation of 0..{self.ndim - 1}")
        return self._view(
            tuple(self.shape[a] for a in order), tuple(self.strides[a] for a in order), self.offset
        )

    def transpose(self, axis0: int = -2, axis1: int = -1) -> NDArray:
        if self.ndim < 2:
            return self
        order = list(range(self.ndim))
        a, b = normalize_axis(axis0, self.ndim), normalize_axis(axis1, self.ndim)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    def broadcast_to(self, shape: Sequence[int]) -> NDArray:
        shape = tuple(shape)
        if shape == self.shape:
            return self
        if len(shape) < self.ndim or broadcast_shapes(self.shape, shape) != shape:
            raise ValueError(f"cannot broadcast shape {self.shape} to {shape}")
        return self._broadcast_view(shape)

    def _broadcast_view(self, shape: tuple[int, ...]) -> NDArray:
        """broadcast_to without the check, for shapes already known to broadcast."""
        if shape == self.shape:
            return self
        lead = len(shape) - len(self.shape)
        strides = (0,) * lead + tuple(
            0 if d == 1 and n != 1 else s for d, n, s in zip(self.shape, shape[lead:], self.strides)
        )
        return NDArray(
            self.device, self.buffer, shape, strides, self.offset, self.dtype, self.version
        )

    def squeeze(self, axis: object = None) -> NDArray:
        if axis is None:
            keep = [i for i, d in enumerate(self.shape) if d != 1]
        else:
            axes = normalize_axes(axis, self.ndim)
            keep = [i for i in range(self.ndim) if i not in axes or self.shape[i] != 1]
        return self._view(
            tuple(self.shape[i] for i in keep), tuple(self.strides[i] for i in keep), self.offset
        )

    def unsqueeze(self, axis: int) -> NDArray:
        axis = normalize_axis(axis, self.ndim + 1)
        shape = self.shape[:axis] + (1,) + self.shape[axis:]
        strides = self.strides[:axis] + (0,) + self.strides[axis:]
        return self._view(shape, strides, self.offset)

    def flip(self, axes: object = None) -> NDArray:
        axes = normalize_axes(axes, self.ndim)
        offset = self.offset
        strides = list(self.strides)
        for a in axes:
            if self.shape[a] > 0:
                offset += (self.shape[a] - 1) * strides[a]
            strides[a] = -strides[a]
        return self._view(self.shape, tuple(strides), offset)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> NDArray:
        """torch.diagonal as a view: the other axes in order, then the diagonal of axes
        (axis1, axis2), `offset` above the main one (below when negative)."""
        a, b = normalize_axis(axis1, self.ndim), normalize_axis(axis2, self.ndim)
        if a == b:
            raise ValueError(f"diagonal dimensions cannot be identical {axis1}, {axis2}")
        rows, cols = self.shape[a], self.shape[b]
        length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
        start = self.offset
        if length:
            start += offset * self.strides[b] if offset >= 0 else -offset * self.strides[a]
        kept = [i for i in range(self.ndim) if i not in (a, b)]
        shape = tuple(self.shape[i] for i in kept) + (length,)
        strides = tuple(self.strides[i] for i in kept) + (self.strides[a] + self.strides[b],)
        return self._view(shape, strides, start)

    def slice_view(self, key: tuple) -> NDArray:
        """Basic indexing: a tuple of ints, slices, None and at most one Ellipsis."""
        key = _expand_ellipsis(key, self.ndim)
        shape, strides = [], []
        offset, axis = self.offset, 0
        for item in key:
            if item is None:
                shape.append(1)
                strides.append(0)
                continue
            dim = self.shape[axis]
            if isinstance(item, slice):
                start, stop, step = item.indices(dim)
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                count = max(0, (stop - start + (step - (1 if step > 0 else -1))) // step)
                if count > 0:
                    offset += start * self.strides[axis]
                shape.append(count)
                strides.append(self.strides[axis] * step)
            else:
                index = int(item)
                if not -dim <= index < dim:
                    raise IndexError(
                        f"index {index} is out of bounds for axis {axis} with size {dim}"
                    )
                offset += (index % dim) * self.strides[axis]
            axis += 1
        shape += self.shape[axis:]
        strides += self.strides[axis:]
        return self._view(tuple(shape), tuple(strides), offset)

    # --- elementwise ---------------------------------------------------------------------
    def unary(self, op: str) -> NDArray:
        source = self
        if op in FLOAT_ONLY_UNARY and not self.dtype.is_floating:
            source = self.astype(dt.float32)
        elif op == "logical_not" and self.dtype is not dt.bool_:
            source = self.astype(dt.bool_)
        elif op == "bitwise_not" and self.dtype.is_floating:
            raise TypeError(_bitwise_refusal("bitwise_not", self.dtype))
        out = NDArray.empty(source.shape, source.dtype, self.device)
        self.backend.unary(op, source.strided(), out.strided())
        return out

    def binary(
        self, op: str, other: NDArray | float | int | bool, out: NDArray | None = None
    ) -> NDArray:
        """`self op other` with NumPy broadcasting and torch's dtype promotion. `out`, when
        given, must be compact with the result's shape and dtype; it may be `self` (in place)."""
        if not isinstance(other, NDArray):
            return self.scalar_op(op, other, reflected=False, out=out)
        dtype = self.dtype
        if (  # the common case, kept short: one shape, one floating dtype, a new result
            out is None
            and other.shape == self.shape
            and other.dtype is dtype
            and other.device is self.device
            and dtype.is_floating
            and op not in _NOT_FAST
        ):
            out = NDArray.empty(self.shape, dtype, self.device)
            self.backend.binary(op, self.strided(), other.strided(), out.strided())
            return out
        if other.device is not self.device:
            self._same_device(other)
        if other.dtype is not dtype or not dtype.is_floating or op in BITWISE:
            if op == "sub" and dt.bool_ in (dtype, other.dtype):
                raise RuntimeError(_BOOL_SUB)
            dtype = _operand_dtype(
                op, dt.promote_arrays(dtype, self.ndim == 0, other.dtype, other.ndim == 0)
            )
        a, b = self, other
        if a.shape != b.shape:
            shape = broadcast_shapes(a.shape, b.shape)
            a, b = a._broadcast_view(shape), b._broadcast_view(shape)
        if a.dtype is not dtype:
            a = a.astype(dtype)
        if b.dtype is not dtype:
            b = b.astype(dtype)
        result_dtype = dt.bool_ if op in COMPARISONS else dtype
        out = _output(out, a.shape, result_dtype, self.device)
        self.backend.binary(op, a.strided(), b.strided(), out.strided())
        return out

    def scalar_op(
        self, op: str, value: object, reflected: bool = False, out: NDArray | None = None
    ) -> NDArray:
        """`self op value` (or `value op self`) for a Python number."""
        dtype = self.dtype
        if type(value) is float and dtype.is_floating and op not in _NOT_FAST:
            source = self  # the common case: no promotion, no conversion
        else:
            if isinstance(value, np.generic):
                value = value.item()
            if not isinstance(value, numbers.Number):
                raise TypeError(f"unsupported operand for {op}: NDArray and {type(value).__name__}")
            if op == "sub" and (dtype is dt.bool_ or isinstance(value, bool)):
                raise RuntimeError(_BOOL_SUB)
            dtype = _operand_dtype(op, dt.promote_scalar(dtype, value))
            if op in COMPARISONS and _beyond(value, dtype):
                return _output(out, self.shape, dt.bool_, self.device).fill_(
                    _compare_beyond(op, value > 0, reflected)  # type: ignore[operator]
                )
            source = self.astype(dtype)
            value = _python_scalar(value, dtype)
        out = _output(out, self.shape, dt.bool_ if op in COMPARISONS else dtype, self.device)
        self.backend.scalar(op, source.strided(), value, out.strided(), reflected)
        return out

    @staticmethod
    def where(cond: NDArray, a: NDArray | float, b: NDArray | float) -> NDArray:
        device = cond.device
        arrays = [x for x in (a, b) if isinstance(x, NDArray)]
        for x in arrays:
            cond._same_device(x)
        if len(arrays) == 2:
            dtype = dt.promote_arrays(a.dtype, a.ndim == 0, b.dtype, b.ndim == 0)  # type: ignore
        elif arrays:
            other = b if arrays[0] is a else a
            dtype = dt.promote_scalar(arrays[0].dtype, other)
        else:
            dtype = dt.promote_scalar(dt.promote_scalar(dt.bool_, a), b)
        shape = broadcast_shapes(cond.shape, *(x.shape for x in arrays))
        a, b = (
            x.astype(dtype).broadcast_to(shape)
            if isinstance(x, NDArray)
            else NDArray.full((), x, dtype, device).broadcast_to(shape)
            for x in (a, b)
        )
        out = NDArray.empty(shape, dtype, device)
        c = cond.astype(dt.bool_).broadcast_to(shape)
        device.backend.where(c.strided(), a.strided(), b.strided(), out.strided())
        return out

    # --- reductions ----------------------------------------------------------------------
    def reduce(self, op: str, axes: object = None, keepdims: bool = False) -> NDArray:
        """sum / max / min / prod over `axes` (None: all)."""
        axes = normalize_axes(axes, self.ndim)
        source, result = self, self.dtype
        if op in ("sum", "prod") and not self.dtype.is_floating:
            source, result = (
                self.astype(dt.int64),
                dt.int64,
            )  # as torch: bool and small ints sum to int64
        elif op in ("sum", "prod") and self.dtype.itemsize < 4:
            source = self.astype(dt.float32)  # float16/bfloat16 accumulate in float32, as torch
        if op in ("max", "min") and any(self.shape[a] == 0 for a in axes):
            raise ValueError(
                f"{op}() of an empty extent: axes {axes} of shape {self.shape} include a 0-sized "
                "dimension and the result has no identity"
            )
        kept = tuple(d for i, d in enumerate(self.shape) if i not in axes)
        out = NDArray.empty(kept, source.dtype, self.device)
        if axes:
            self.backend.reduce(op, source.strided(), axes, out.strided())
        else:
            self.backend.compact(source.strided(), out.strided())
        if out.dtype is not result:
            out = out.astype(result)
        if keepdims:
            return out.reshape(tuple(1 if i in axes else d for i, d in enumerate(self.shape)))
        return out

    def arg_reduce(self, op: str, axis: int | None = None, keepdims: bool = False) -> NDArray:
        """argmax / argmin along one axis, or over the flattened array when axis is None."""
        if axis is None:
            flat = self.reshape(-1)
            result = flat.arg_reduce(op, 0)
            return result.reshape((1,) * self.ndim) if keepdims else result
        axis = normalize_axis(axis, self.ndim)
        if self.ndim == 0:
            return NDArray.full((), 0, dt.int64, self.device)
        if self.shape[axis] == 0:
            raise ValueError(f"{op}() of an empty axis {axis} in shape {self.shape}")
        kept = self.shape[:axis] + self.shape[axis + 1 :]
        out = NDArray.empty(kept, dt.int64, self.device)
        self.backend.arg_reduce(op, self.strided(), axis, out.strided())
        return out.unsqueeze(axis) if keepdims else out

    # --- linear algebra ------------------------------------------------------------------
    def matmul(self, other: NDArray) -> NDArray:
        """NumPy matmul semantics: 1-D operands promoted and squeezed, batch dims broadcast."""
        dtype = self.dtype
        if (  # the common case, kept short: two matrices of one floating dtype
            len(self.shape) == 2
            and len(other.shape) == 2
            and other.dtype is dtype
            and dtype.is_floating
            and other.device is self.device
            and self.shape[1] == other.shape[0]
        ):
            (m, k), n = self.shape, other.shape[1]
            out = NDArray.empty((m, n), dtype, self.device)
            self.backend.matmul(
                Strided(self.buffer, (1, m, k), (0, *self.strides), self.offset, dtype.name),
                Strided(other.buffer, (1, k, n), (0, *other.strides), other.offset, dtype.name),
                Strided(out.buffer, (1, m, n), (0, n, 1), 0, dtype.name),
            )
            return out
        self._same_device(other)
        a, b = self, other
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul does not accept 0-d operands; use * for scalars")
        dtype = dt.promote(a.dtype, b.dtype)
        if not dtype.is_floating:
            raise TypeError(
                f"matmul needs floating operands, got {a.dtype.name} and {b.dtype.name}; "
                "cast with .astype('float32')"
            )
        a, b = a.astype(dtype), b.astype(dtype)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        m, k = a2.shape[-2:]
        k2, n = b2.shape[-2:]
        if k != k2:
            raise ValueError(
                f"matmul shape mismatch: {self.shape} @ {other.shape} "
                f"(inner dimensions {k} and {k2} differ)"
            )
        if a2.ndim == 2 and b2.ndim == 2:  # the common case: one matrix product
            a3 = a2._view((1, m, k), (0,) + a2.strides, a2.offset)
            b3 = b2._view((1, k, n), (0,) + b2.strides, b2.offset)
            batch: tuple[int, ...] = ()
        else:
            batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
            a3 = _as_batch3(a2.broadcast_to(batch + (m, k)), batch)
            b3 = _as_batch3(b2.broadcast_to(batch + (k, n)), batch)
        out = NDArray.empty((prod(batch), m, n), dtype, self.device)
        self.backend.matmul(a3.strided(), b3.strided(), out.strided())
        shape = batch + (m, n)
        if self.ndim == 1:
            shape = shape[:-2] + (n,)
        if other.ndim == 1:
            shape = shape[:-1]
        return out._view(shape, compact_strides(shape), 0)

    # --- helpers -------------------------------------------------------------------------
    def _same_device(self, other: NDArray) -> None:
        if other.device is not self.device:
            raise RuntimeError(
                f"arrays are on different devices: {self.device.name} and {other.device.name}; "
                "move one with .to(device) first (plugrad never copies silently)"
            )


def _output(out: NDArray | None, shape: tuple, dtype: dt.DType, device: Device) -> NDArray:
    """A new compact result array, or the caller's `out` after checking it fits."""
    if out is None:
        return NDArray.empty(shape, dtype, device)
    if out.shape != shape or out.dtype is not dtype or out.device is not device:
        raise ValueError(
            f"out of shape {out.shape}, {out.dtype.name} on {out.device.name} cannot hold a "
            f"result of shape {shape}, {dtype.name} on {device.name}"
        )
    if not out.is_compact():
        raise ValueError("out must be compact (row-major, offset 0)")
    return out


def _unsupported(device: Device, dtype: dt.DType) -> TypeError:
    """The core's refusal of a dtype a device's backend does not declare."""
    return TypeError(
        f"device {device.name!r} does not support dtype {dtype.name} "
        f"(it supports {', '.join(device.backend.dtypes)}); use .astype() or another device"
    )


def _operand_dtype(op: str, dtype: dt.DType) -> dt.DType:
    """The dtype both operands are cast to before the kernel runs."""
    if op == "div" and not dtype.is_floating:
        return dt.float32
    if op in LOGICAL:
        return dt.bool_
    if op in BITWISE and (dtype.is_floating or (op in SHIFTS and dtype is dt.bool_)):
        raise TypeError(_bitwise_refusal(op, dtype))
    if op == "pow" and dtype is dt.bool_:
        return dt.int64  # bool add (or) and mul (and) stay bool, as in torch and NumPy
    return dtype


def _bitwise_refusal(op: str, dtype: dt.DType) -> str:
    """torch's refusal of a bitwise op on floats (or a shift on bool), with the fix."""
    takes = "integer tensors" if op in SHIFTS else "integer and bool tensors"
    return (
        f"{op} is only supported for {takes}, got {dtype.name} (as in torch: "
        f'"{op}" not implemented for {dtype.name}); cast with .long() first'
    )


_BOOL_SUB = (
    "subtraction with a bool operand is not supported (as in torch): use ^ or logical_xor to "
    "compare masks, ~ or logical_not to invert one, or cast with .long() first"
)


def _python_scalar(value: object, dtype: dt.DType) -> float | int | bool:
    if isinstance(value, np.generic):
        value = value.item()
    if dtype.is_floating:
        return float(value)  # type: ignore[arg-type]
    if dtype is dt.bool_:
        return bool(value)
    value = int(value)  # type: ignore[call-overload]
    info = np.iinfo(dtype.numpy)
    if not info.min <= value <= info.max:
        # A backend would wrap it or fail deep inside its FFI; torch refuses too.
        raise OverflowError(
            f"the Python int {value} does not fit the tensor's dtype {dtype.name} (range "
            f"{info.min}..{info.max}); convert the tensor first (e.g. .double()) or use a "
            "smaller number"
        )
    return value


def _beyond(value: object, dtype: dt.DType) -> bool:
    """An int outside an integer dtype's range (comparisons with it are constant)."""
    if type(value) is not int or dtype.is_floating or dtype is dt.bool_:
        return False
    info = np.iinfo(dtype.numpy)
    return not info.min <= value <= info.max


def _compare_beyond(op: str, above: bool, reflected: bool) -> bool:
    """`x op value` for every x of the dtype when value lies above (or below) its range."""
    if reflected:  # value op x: x lies below (above) value
        op = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(op, op)
    return {"eq": False, "ne": True, "lt": above, "le": above, "gt": not above,
            "ge": not above}[op]  # fmt: skip


def _expand_ellipsis(key: tuple, ndim: int) -> tuple:
    ellipses = sum(1 for k in key if k is Ellipsis)
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > ndim:
        raise IndexError(f"too many indices for an array with {ndim} dimensions: {len(key)} given")
    if ellipses:
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - consumed) + key[i + 1 :]
    return key


def _as_batch3(x: NDArray, batch: tuple[int, ...]) -> NDArray:
    """(*batch, r, c) -> (B, r, c), as a view when the batch dims merge, else a copy."""
    r, c = x.shape[-2:]
    size = prod(batch)
    if not batch:
        return x._view((1, r, c), (0,) + x.strides[-2:], x.offset)
    strides = view_strides_for_reshape(batch, x.strides[:-2], (size,))
    if strides is None:
        x = x.copy()
        strides = (r * c,)
    return x._view((size, r, c), strides + x.strides[-2:], x.offset)


def _may_overlap(a: NDArray, b: NDArray) -> bool:
    return a.buffer is b.buffer and a is not b and (a.strides != b.strides or a.offset != b.offset)


class _SpanOwner:
    """Exposes a raw memory range through the array interface while keeping its owner alive."""

    def __init__(self, owner: np.ndarray, address: int, length: int) -> None:
        self.owner = owner
        self.__array_interface__ = {
            "shape": (length,),
            "typestr": owner.dtype.str,
            "data": (address, not owner.flags.writeable),
            "version": 3,
        }


def _flat_span(array: np.ndarray, low: int, high: int) -> np.ndarray:
    """A 1-D contiguous array over the memory a strided array spans, elements low..high
    relative to its first element (low <= 0 with negative strides)."""
    address = array.__array_interface__["data"][0] + low * array.itemsize
    span = np.asarray(_SpanOwner(array, address, high - low + 1))
    # The array interface spells bfloat16 (an ml_dtypes dtype) as raw bytes: view it back.
    return span if span.dtype == array.dtype else span.view(array.dtype)
