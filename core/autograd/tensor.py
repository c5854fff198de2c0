"""Tensor: an NDArray plus its place in the autograd graph, with torch's method names."""

from __future__ import annotations

import numbers
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import arguments
from .. import dtypes as dt
from ..amp.casting import autocast_op
from ..backend.registry import Device, get_device
from ..indexing import IndexPlan, is_basic, normalize_key
from ..ndarray import NDArray, _may_overlap
from ..ops import base as _base
from ..ops import elementwise as ew
from ..ops import fused, linalg, reduction
from ..ops import gather as gather_ops
from ..ops import shape as shape_ops
from ..ops.base import Op
from ..ops.conv import conv2d as conv2d  # plugrad.conv2d, F.conv2d
from ..printing import array_to_string
from ..shapes import normalize_axis
from . import hooks, inplace, views
from .engine import run_backward
from .history import AutogradMeta

Number = numbers.Number
_INFERRED = "(once) to infer that size from the others"
_accumulate_lock = threading.Lock()
_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")


class Tensor:
    """An n-dimensional array on a device that can record the operations applied to it.

    `requires_grad=True` makes a leaf whose `.grad` is filled by `backward()`.
    """

    __slots__ = ("array", "requires_grad", "grad", "_op", "_inputs", "_graph_freed", "name",
                 "_retains_grad", "_versions", "_base", "_meta", "__weakref__")  # fmt: skip
    # _versions: the storage versions of the inputs and of the output when the node was made;
    # _base: (root tensor, its history stamp) for a view; _meta: history and hooks (history.py)
    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to us

    def __init__(
        self,
        data: Any,
        dtype: object = None,
        device: object = None,
        requires_grad: bool = False,
    ) -> None:
        self._init_leaf(_to_ndarray(data, dtype, device))
        if requires_grad:
            self.requires_grad_(True)

    # --- construction from ops (hot path: no checks beyond what is needed) ---------------
    def _init_leaf(self, array: NDArray) -> None:
        """Every field of a leaf that does not require grad, over `array`."""
        self.array = array
        self.requires_grad = False
        self.grad: Tensor | None = None
        self._op: Op | None = None
        self._inputs: tuple[Tensor, ...] = ()
        self._graph_freed = False
        self._retains_grad = False
        self._base: tuple | None = None
        self._meta: AutogradMeta | None = None
        self.name: str | None = None

    @classmethod
    def _wrap(cls, array: NDArray) -> Tensor:
        t = cls.__new__(cls)
        t._init_leaf(array)
        return t

    @classmethod
    def _from_op(cls, array: NDArray, op: Op, inputs: tuple[Tensor, ...]) -> Tensor:
        t = cls._wrap(array)
        t.requires_grad = True
        t._op = op
        t._inputs = inputs
        t._versions = (*[x.array.version[0] for x in inputs], array.version[0])
        return t

    # --- metadata ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> dt.DType:
        return self.array.dtype

    @property
    def device(self) -> Device:
        return self.array.device

    @property
    def ndim(self) -> int:
        return len(self.array.shape)

    def dim(self) -> int:
        return self.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[normalize_axis(dim, self.ndim)]

    def numel(self) -> int:
        return self.array.size

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    @property
    def grad_fn(self) -> Op | None:
        return self._op

    @property
    def T(self) -> Tensor:  # noqa: N802 - torch's name
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - torch's name
        if self.ndim == 2:
            return shape_ops.Permute((1, 0))(self)
        return self.transpose(-2, -1)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = array_to_string(self.array.numpy(), prefix="tensor(")
        extras = []
        if (
            self.dtype is not dt.float32
            and self.dtype is not dt.int64
            and self.dtype is not dt.bool_
        ):
            extras.append(f"dtype={self.dtype!r}")
        extras.append(f"device='{self.device.name}'")
        if self._op is not None:
            extras.append(f"grad_fn=<{self._op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.numel()} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating or self.dtype is dt.bool_ or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> tuple:
        """Pickling copies the values to the host; unpickling puts them back on the device of
        the same name (a leaf, as torch's)."""
        if self._op is not None and self.requires_grad:
            raise RuntimeError(
                "refusing to pickle a non-leaf tensor that requires grad: the graph cannot cross "
                "process boundaries; pickle .detach() instead"
            )
        values = np.array(self.array.numpy(), copy=True)
        return (_unpickle, (values, self.dtype.name, self.device.name, self.requires_grad))

    # --- host interop --------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A NumPy array of the values: shares memory on host backends, as torch does."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; use .detach()")
        return self.array.numpy()

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.array.__array__(dtype, copy)

    def item(self) -> float | int | bool:
        return self.array.item()

    def tolist(self) -> Any:
        return self.array.numpy().tolist()

    def __dlpack__(self, stream: object = None, **kwargs: Any) -> Any:
        backend = self.array.backend
        if not backend.is_host:
            export = getattr(backend, "to_dlpack", None)
            if export is None:
                raise BufferError(f"device {self.device} does not export DLPack")
            return export(self.detach().array.strided(), stream)
        return self.detach().array.numpy().__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        backend = self.array.backend
        if not backend.is_host:
            device_of = getattr(backend, "dlpack_device", None)
            if device_of is None:
                raise BufferError(f"device {self.device} does not export DLPack")
            return tuple(device_of())
        return (1, 0)  # kDLCPU

    # --- autograd ------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not self.dtype.is_floating:
            raise RuntimeError(
                f"only floating-point tensors can require gradients, this one is {self.dtype.name}"
            )
        if not requires_grad and self._op is not None:
            raise RuntimeError("cannot turn off requires_grad on a non-leaf; use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor after backward."""
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Any) -> hooks.RemovableHandle:
        """hook(grad) runs when this tensor's gradient is computed; it may return a
        replacement. Returns a handle with .remove()."""
        return hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook: Any) -> hooks.RemovableHandle:
        """hook(tensor) runs after backward accumulated into this leaf's .grad."""
        return hooks.register_post_accumulate_grad_hook(self, hook)

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool = False,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad."""
        if self._base is not None:
            views.refresh(self)
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad)"
            )
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}"
                    "; pass gradient= of the same shape (or reduce with .sum())"
                )
            gradient = Tensor._wrap(NDArray.full(self.shape, 1.0, self.dtype, self.device))
        else:
            gradient = _coerce_grad(gradient, self)
        run_backward([self], [gradient], retain_graph or create_graph, create_graph)

    def _accumulate_grad(self, grad: Tensor, create_graph: bool, owned: bool) -> None:
        """Add `grad` into .grad. `owned`: no other tensor shares grad's memory, so it can be
        kept as is instead of copied. Threads running backward into one leaf take turns."""
        with _accumulate_lock:
            self._accumulate_unlocked(grad, create_graph, owned)

    def _accumulate_unlocked(self, grad: Tensor, create_graph: bool, owned: bool) -> None:
        if create_graph:
            self.grad = grad if self.grad is None else self.grad + grad
        elif self.grad is None:
            array = grad.array
            # A broadcast view (stride 0) would alias its own elements under in-place updates.
            overlaps = any(s == 0 and d > 1 for s, d in zip(array.strides, array.shape))
            self.grad = Tensor._wrap(array if owned and not overlaps else array.copy())
        else:
            self.grad = Tensor._wrap(self.grad.array.binary("add", grad.array))

    def _free_graph(self) -> None:
        if self._op is not None:
            self._op = None
            self._inputs = ()
            self._graph_freed = True

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory)."""
        return Tensor._wrap(self.array)

    def detach_(self) -> Tensor:
        self._op, self._inputs, self.requires_grad = None, (), False
        return self

    @property
    def data(self) -> Tensor:
        """A detached tensor sharing this one's memory (torch's `.data`)."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f".data must be set to a Tensor, got {type(value).__name__}")
        self.array = value.array

    # --- devices and dtypes --------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`t.to("c_cpu")`, `t.to(plugrad.float64)`, `t.to(device, dtype)`: differentiable."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"unexpected arguments to Tensor.to: {', '.join(kwargs)}")
        for arg in args:
            if isinstance(arg, (dt.DType, type, np.dtype)) or (
                isinstance(arg, str) and (arg in dt.ALL or arg in dt.ALIASES)
            ):
                dtype = arg
            else:
                device = arg
        out = self
        if dtype is not None:
            out = out.astype(dtype)
        if device is not None and get_device(device) is not out.device:
            out = ToDevice(get_device(device))(out)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def to_device(self, device: object, /, *, stream: object = None) -> Tensor:
        """The Array API's `x.to_device(device)`: this tensor on `device` (itself when it is
        there already); differentiable, as `to`."""
        target = get_device(device)
        return self if target is self.device else ToDevice(target)(self)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        """The Array API namespace of plugrad arrays: the module `plugrad.array_api`."""
        if api_version is not None and api_version not in _API_VERSIONS:
            raise ValueError(
                f"plugrad.array_api implements the Array API {_API_VERSIONS[-1]} (and the "
                f"earlier {', '.join(_API_VERSIONS[:-1])}), not {api_version!r}"
            )
        from .. import array_api

        return array_api

    def astype(self, dtype: object) -> Tensor:
        dtype = dt.as_dtype(dtype)
        if dtype is self.dtype:
            return self
        return ew.Cast(dtype)(self)

    def type(self, dtype: object) -> Tensor:
        return self.astype(dtype)

    def float(self) -> Tensor:
        return self.astype(dt.float32)

    def double(self) -> Tensor:
        return self.astype(dt.float64)

    def long(self) -> Tensor:
        return self.astype(dt.int64)

    def bool(self) -> Tensor:
        return self.astype(dt.bool_)

    def half(self) -> Tensor:
        return self.astype(dt.float16)

    def bfloat16(self) -> Tensor:
        return self.astype(dt.bfloat16)

    def int(self) -> Tensor:
        """int32, as torch's `.int()`."""
        return self.astype(dt.int32)

    def short(self) -> Tensor:
        return self.astype(dt.int16)

    def char(self) -> Tensor:
        """int8, as torch's `.char()`."""
        return self.astype(dt.int8)

    def byte(self) -> Tensor:
        """uint8, as torch's `.byte()`."""
        return self.astype(dt.uint8)

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating

    def contiguous(self) -> Tensor:
        return self if self.array.is_compact() else self.clone()

    def clone(self, *, memory_format: Any = None) -> Tensor:
        """A copy in the graph (memory_format is accepted and ignored: one layout)."""
        return _Clone()(self)

    # --- in-place updates (recorded in the graph by autograd/inplace.py) ------------------
    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (shared by its views)."""
        return self.array.version[0]

    def copy_(self, source: Tensor | Any, non_blocking: bool = False) -> Tensor:
        """Write `source` (broadcast, cast, from any device) into this tensor."""
        if not isinstance(source, Tensor):
            source = Tensor._wrap(_to_ndarray(source, self.dtype, self.device))
        if not inplace.records(self, (source,)):
            inplace.check_writable(self)
            self.array.assign_(source.array.to(self.device))
            inplace.bump(self)
            return self
        return inplace.apply(self, _copied, source)

    def fill_(self, value: float | int | bool | Tensor) -> Tensor:
        if isinstance(value, Tensor):
            if value.numel() != 1 or value.ndim:
                raise RuntimeError(f"fill_ takes a number or a 0-d tensor, got shape {value.shape}")
            return self.copy_(value)
        if not inplace.records(self):
            inplace.check_writable(self)
            self.array.fill_(value)
            inplace.bump(self)
            return self
        return inplace.apply(self, _filled, value)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def _inplace(self, op: str, other: Any) -> Tensor:
        """self op= other for a binary op; the result must keep self's dtype."""
        value = other.array if isinstance(other, Tensor) else other
        if isinstance(value, NDArray) and value.device is not self.device:
            self.array._same_device(value)
        target = self.array
        result_dtype = (
            value.dtype if isinstance(value, NDArray) else dt.promote_scalar(target.dtype, value)
        )
        if dt.promote(target.dtype, result_dtype) is not target.dtype:
            raise RuntimeError(
                f"result type {result_dtype.name} can't be cast to the in-place output "
                f"{target.dtype.name}"
            )
        if inplace.records(self, (other,)):
            return inplace.apply(self, _binary_of(op), other)
        inplace.check_writable(self)
        if target.is_compact():
            # Elementwise kernels may write over an operand read at the same position only.
            if isinstance(value, NDArray):
                value = value.astype(target.dtype).broadcast_to(target.shape)
                if _may_overlap(value, target):
                    value = value.copy()
            target.binary(op, value, out=target)
        else:
            target.assign_(target.binary(op, value))
        inplace.bump(self)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        if alpha != 1.0 and self._axpy_(alpha, other):
            return self
        return self._inplace("add", other if alpha == 1.0 else other * alpha)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        if self._axpy_(-alpha, other):
            return self
        return self._inplace("sub", other if alpha == 1.0 else other * alpha)

    def _axpy_(self, alpha: float, other: Any) -> bool:
        """self += alpha * other in one pass (optimizers' updates) when both are floating
        tensors of one shape, dtype and device, self is compact and nothing is recorded;
        False otherwise."""
        if not isinstance(other, Tensor):
            return False
        target, value = self.array, other.array
        if (
            value.shape != target.shape
            or value.dtype is not target.dtype
            or value.device is not target.device
            or not target.dtype.is_floating
            or not target.is_compact()
            or _may_overlap(value, target)
            or inplace.records(self, (other,))
        ):
            return False
        fused.axpy(float(alpha), value, target)
        inplace.bump(self)
        return True

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul", other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div", other)

    def pow_(self, other: Any) -> Tensor:
        return self._inplace("pow", other)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return inplace.apply(self, Tensor.clamp, min, max)

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        return inplace.apply(self, Tensor.masked_fill, mask, value)

    def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha: float = 1) -> Tensor:
        return inplace.apply(self, Tensor.index_add, dim, index, source, alpha)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return inplace.apply(self, scatter_add, dim, index, src)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_

    def __setitem__(self, key: Any, value: Any) -> None:
        inplace.setitem(self, _unwrap_key(normalize_key(key)), value)

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        """value where mask is true, else self (mask broadcasts to self's shape)."""
        if not isinstance(mask, Tensor) or mask.dtype is not dt.bool_:
            raise TypeError("masked_fill needs a bool tensor as mask")
        if not isinstance(value, Tensor):
            value = Tensor._wrap(NDArray.full((), value, self.dtype, self.device))
        elif value.ndim:
            raise RuntimeError(
                f"masked_fill takes a number or a 0-d tensor as value, got shape {value.shape}"
            )
        result = where(mask, value.astype(self.dtype), self)
        if result.shape != self.shape:
            raise RuntimeError(
                f"masked_fill: mask of shape {mask.shape} does not broadcast to self's shape "
                f"{self.shape}"
            )
        return result

    def index_add(self, dim: int, index: Tensor, source: Tensor, alpha: float = 1) -> Tensor:
        """self with source's slices added at `index` along dim (index: int64 of length
        source.shape[dim])."""
        axis = normalize_axis(dim, self.ndim)
        if index.ndim != 1 or index.shape[0] != source.shape[axis] or source.ndim != self.ndim:
            raise ValueError(
                f"index_add: index of shape {index.shape} must be 1-D with one entry per slice "
                f"of source {source.shape} along dim {dim}, and source must have self's ndim"
            )
        shape = [1] * self.ndim
        shape[axis] = index.shape[0]
        spread = index.reshape(shape).broadcast_to(source.shape)
        added = source if alpha == 1 else source * alpha
        return self + gather_ops.ScatterAdd(axis, self.shape)(spread, added.astype(self.dtype))

    # --- arithmetic ----------------------------------------------------------------------
    def _binary(self, op: str, other: Any, reflected: bool = False) -> Tensor:
        if isinstance(other, Tensor):
            return ew.Binary(op)(other, self) if reflected else ew.Binary(op)(self, other)
        if isinstance(other, (Number, np.generic)) and not isinstance(other, np.ndarray):
            return ew.Scalar(
                op, other.item() if isinstance(other, np.generic) else other, reflected
            )(self)
        other = Tensor(other, device=self.device)
        return ew.Binary(op)(other, self) if reflected else ew.Binary(op)(self, other)

    def __add__(self, other: Any) -> Tensor:
        return self._binary("add", other)

    def __radd__(self, other: Any) -> Tensor:
        return self._binary("add", other, reflected=True)

    def __sub__(self, other: Any) -> Tensor:
        return self._binary("sub", other)

    def __rsub__(self, other: Any) -> Tensor:
        return self._binary("sub", other, reflected=True)

    def __mul__(self, other: Any) -> Tensor:
        return self._binary("mul", other)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary("mul", other, reflected=True)

    def __truediv__(self, other: Any) -> Tensor:
        return self._binary("div", other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary("div", other, reflected=True)

    def __pow__(self, other: Any) -> Tensor:
        return self._binary("pow", other)

    def __rpow__(self, other: Any) -> Tensor:
        return self._binary("pow", other, reflected=True)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(Tensor(other, device=self.device), self)

    def __neg__(self) -> Tensor:
        return ew.Unary("neg")(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    # comparisons and logic give bool tensors outside the graph
    def _compare(self, op: str, other: Any) -> Tensor:
        value = other.array if isinstance(other, Tensor) else other
        if isinstance(value, (np.ndarray, list)):
            value = _to_ndarray(value, None, self.device)
        return Tensor._wrap(self.array.binary(op, value))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare("eq", other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare("ne", other)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare("lt", other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare("le", other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare("gt", other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare("ge", other)

    # bitwise ops (integers and bool, outside the graph): & | ^ ~ << >>, as in torch
    def _bitwise(self, op: str, other: Any, reflected: bool = False) -> Tensor:
        if isinstance(other, Tensor):
            value: Any = other.array
        elif isinstance(other, (Number, np.generic)) and not isinstance(other, np.ndarray):
            value = other.item() if isinstance(other, np.generic) else other
        else:
            value = _to_ndarray(other, None, self.device)
        if reflected:
            if isinstance(value, NDArray):
                return Tensor._wrap(value.binary(op, self.array))
            return Tensor._wrap(self.array.scalar_op(op, value, reflected=True))
        return Tensor._wrap(self.array.binary(op, value))

    def bitwise_and(self, other: Any) -> Tensor:
        """Bitwise and of integers, logical and of bools (floats are refused, as in torch)."""
        return self._bitwise("bitwise_and", other)

    def bitwise_or(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_or", other)

    def bitwise_xor(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_xor", other)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        """self << other for integers; a count outside [0, 64) gives 0, as in torch."""
        return self._bitwise("bitwise_left_shift", other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        """Arithmetic self >> other for integers; a count outside [0, 64) gives the sign."""
        return self._bitwise("bitwise_right_shift", other)

    def bitwise_not(self) -> Tensor:
        """~x: two's complement for integers, logical not for bools."""
        return Tensor._wrap(self.array.unary("bitwise_not"))

    def bitwise_and_(self, other: Any) -> Tensor:
        return self._inplace("bitwise_and", other)

    def bitwise_or_(self, other: Any) -> Tensor:
        return self._inplace("bitwise_or", other)

    def bitwise_xor_(self, other: Any) -> Tensor:
        return self._inplace("bitwise_xor", other)

    def bitwise_left_shift_(self, other: Any) -> Tensor:
        return self._inplace("bitwise_left_shift", other)

    def bitwise_right_shift_(self, other: Any) -> Tensor:
        return self._inplace("bitwise_right_shift", other)

    def bitwise_not_(self) -> Tensor:
        return self.copy_(self.bitwise_not())

    __and__ = bitwise_and
    __or__ = bitwise_or
    __xor__ = bitwise_xor
    __lshift__ = bitwise_left_shift
    __rshift__ = bitwise_right_shift
    __invert__ = bitwise_not
    __iand__ = bitwise_and_
    __ior__ = bitwise_or_
    __ixor__ = bitwise_xor_
    __ilshift__ = bitwise_left_shift_
    __irshift__ = bitwise_right_shift_

    def __rand__(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_and", other, reflected=True)

    def __ror__(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_or", other, reflected=True)

    def __rxor__(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_xor", other, reflected=True)

    def __rlshift__(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_left_shift", other, reflected=True)

    def __rrshift__(self, other: Any) -> Tensor:
        return self._bitwise("bitwise_right_shift", other, reflected=True)

    def logical_not(self) -> Tensor:
        return Tensor._wrap(self.array.unary("logical_not"))

    def eq(self, other: Any) -> Tensor:
        return self == other

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool((self == other).all())

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        dims = _dims("any", dim, None, self.ndim)
        return Tensor._wrap(_logical_reduce(self.array, "max", dims, keepdim))

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        dims = _dims("all", dim, None, self.ndim)
        return Tensor._wrap(_logical_reduce(self.array, "min", dims, keepdim))

    # --- elementwise math ----------------------------------------------------------------
    def neg(self) -> Tensor:
        return -self

    @autocast_op("exp")
    def exp(self) -> Tensor:
        return ew.Unary("exp")(self)

    @autocast_op("log")
    def log(self) -> Tensor:
        return ew.Unary("log")(self)

    def sqrt(self) -> Tensor:
        return ew.Unary("sqrt")(self)

    @autocast_op("rsqrt")
    def rsqrt(self) -> Tensor:
        return 1.0 / self.sqrt()

    def abs(self) -> Tensor:
        return ew.Unary("abs")(self)

    def sign(self) -> Tensor:
        return ew.Unary("sign")(self)

    def sin(self) -> Tensor:
        return ew.Unary("sin")(self)

    def cos(self) -> Tensor:
        return ew.Unary("cos")(self)

    def erf(self) -> Tensor:
        return ew.Unary("erf")(self)

    def floor(self) -> Tensor:
        return ew.Unary("floor")(self)

    def ceil(self) -> Tensor:
        return ew.Unary("ceil")(self)

    def tanh(self) -> Tensor:
        return ew.Unary("tanh")(self)

    def sigmoid(self) -> Tensor:
        return ew.Unary("sigmoid")(self)

    def relu(self) -> Tensor:
        return ew.Unary("relu")(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        return ew.Gelu(approximate)(self)

    def square(self) -> Tensor:
        return self * self

    @autocast_op("pow")
    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def maximum(self, other: Any) -> Tensor:
        return self._binary("maximum", other)

    def minimum(self, other: Any) -> Tensor:
        return self._binary("minimum", other)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ew.Clamp(min, max)(self)

    clip = clamp

    # --- reductions ----------------------------------------------------------------------
    @autocast_op("sum")
    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return reduction.Sum(_dims("sum", dim, axis, self.ndim), keepdim)(self)

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        axes = _all_dims(_dims("mean", dim, axis, self.ndim), self.ndim)
        count = 1
        for a in axes:
            count *= self.shape[a]
        source = self if self.dtype.is_floating else self.astype(dt.float32)
        return (
            source.sum(axes, keepdim) / max(count, 1)
            if count
            else source.sum(axes, keepdim) * float("nan")
        )

    def var(
        self, dim: Any = None, keepdim: bool = False, *, correction: int = 1,
        unbiased: bool | None = None, axis: Any = None,
    ) -> Tensor:  # fmt: skip
        """Variance with Bessel's correction by default (torch); correction=0 is NumPy's."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axes = _all_dims(_dims("var", dim, axis, self.ndim), self.ndim)
        count = 1
        for a in axes:
            count *= self.shape[a]
        centered = self - self.mean(axes, keepdim=True)
        return (centered * centered).sum(axes, keepdim) / max(count - correction, 0)

    def std(
        self, dim: Any = None, keepdim: bool = False, *, correction: int = 1, axis: Any = None
    ) -> Tensor:
        """sqrt(var); where it is 0 (a constant row) the gradient is 0, as in torch."""
        variance = self.var(dim, keepdim, correction=correction, axis=axis)
        return reduction.SqrtOfVariance()(variance)

    def amax(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return reduction.Extreme("max", _dims("amax", dim, axis, self.ndim), keepdim)(self)

    def amin(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return reduction.Extreme("min", _dims("amin", dim, axis, self.ndim), keepdim)(self)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Any:
        """With no dim: the largest value. With an int dim: (values, indices), as in torch."""
        return reduction.max_or_min(self, "max", _dim(dim, axis), keepdim)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Any:
        """With no dim: the smallest value. With an int dim: (values, indices), as in torch."""
        return reduction.max_or_min(self, "min", _dim(dim, axis), keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return Tensor._wrap(self.array.arg_reduce("argmax", _dim(dim, axis), keepdim))

    def argmin(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return Tensor._wrap(self.array.arg_reduce("argmin", _dim(dim, axis), keepdim))

    @autocast_op("prod")
    def prod(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        return reduction.Prod(_dims("prod", dim, axis, self.ndim), keepdim)(self)

    @autocast_op("logsumexp")
    def logsumexp(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Tensor:
        source = self if self.dtype.is_floating else self.astype(dt.float32)
        return reduction.LogSumExp(_dims("logsumexp", dim, axis, self.ndim), keepdim)(source)

    @autocast_op("softmax")
    def softmax(self, dim: int = -1) -> Tensor:
        return reduction.Softmax(normalize_axis(dim, self.ndim), log=False)(self)

    @autocast_op("log_softmax")
    def log_softmax(self, dim: int = -1) -> Tensor:
        return reduction.Softmax(normalize_axis(dim, self.ndim), log=True)(self)

    # --- shape ---------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one size may be -1 (inferred)."""
        target = arguments.sizes("reshape", shape, "shape", _INFERRED)
        if target == self.shape:
            return self
        return shape_ops.Reshape(target)(self)

    def view(self, *shape: Any) -> Tensor:
        from ..shapes import resolve_reshape, view_strides_for_reshape

        sizes = arguments.sizes("view", shape, "shape", _INFERRED)
        target = resolve_reshape(self.numel(), sizes, self.shape)
        if view_strides_for_reshape(self.shape, self.array.strides, target) is None:
            raise RuntimeError(
                f"view of shape {target} is not possible over strides {self.array.strides} "
                "without a copy; use .reshape(...) instead"
            )
        return self.reshape(target)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = normalize_axis(start_dim, self.ndim), normalize_axis(end_dim, self.ndim)
        count = 1
        for d in self.shape[s : e + 1]:
            count *= d
        return self.reshape(self.shape[:s] + (count,) + self.shape[e + 1 :])

    def permute(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return shape_ops.Permute(tuple(normalize_axis(a, self.ndim) for a in axes))(self)

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        if self.ndim < 2:
            return self
        order = list(range(self.ndim))
        a, b = normalize_axis(dim0, self.ndim), normalize_axis(dim1, self.ndim)
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    def broadcast_to(self, *shape: Any) -> Tensor:
        """torch's broadcast_to, which is expand: sizes of 1 stretch, -1 keeps a size."""
        return self._expand("broadcast_to", shape)

    def expand(self, *shape: Any) -> Tensor:
        """A view of new (leading or stretched size-1) dimensions; -1 keeps a size."""
        return self._expand("expand", shape)

    def _expand(self, fn: str, shape: tuple) -> Tensor:
        sizes = arguments.sizes(fn, shape, minus_one="to keep the existing size")
        target = arguments.expanded_shape(fn, sizes, self.shape)
        if target == self.shape:
            return self
        return shape_ops.BroadcastTo(target)(self)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def squeeze(self, dim: Any = None) -> Tensor:
        return self.reshape(self.array.squeeze(dim).shape)

    def unsqueeze(self, dim: int) -> Tensor:
        return self.reshape(self.array.unsqueeze(dim).shape)

    def flip(self, dims: Any = None) -> Tensor:
        return shape_ops.Flip(arguments.dims("flip", dims, self.ndim))(self)

    def __getitem__(self, key: Any) -> Tensor:
        key = _unwrap_key(normalize_key(key))
        if is_basic(key):
            return shape_ops.BasicIndex(key)(self)
        return shape_ops.AdvancedIndex(IndexPlan(self.shape, key, self.device))(self)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return chunk(self, chunks, dim)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        return gather_ops.Gather(dim)(self, index)

    def matmul(self, other: Tensor) -> Tensor:
        return matmul(self, other)


_base._tensor_class = Tensor
_base.views = views


# Every in-place method that is its out-of-place twin written back; add new ones here.
INPLACE_FORMS = ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sign",
                 "sin", "cos", "erf", "floor", "ceil", "square")  # fmt: skip
for _name in INPLACE_FORMS:
    setattr(Tensor, _name + "_", inplace.inplace_method(getattr(Tensor, _name), _name))
Tensor.clip_ = Tensor.clamp_


def _unpickle(values: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Tensor:
    return Tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def _copied(target: Tensor, source: Tensor) -> Tensor:
    """What copy_ writes: source on target's device (differentiable)."""
    return source.to(target.device) if source.device is not target.device else source


def _filled(target: Tensor, value: float | int | bool) -> Tensor:
    return Tensor._wrap(NDArray.full(target.shape, value, target.dtype, target.device))


def _binary_of(op: str) -> Any:
    return lambda target, other: target._binary(op, other)


class MinMaxResult(tuple):
    """(values, indices) as returned by max/min with a dim, like torch.return_types."""

    def __new__(cls, values: Tensor, indices: Tensor) -> MinMaxResult:
        return super().__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]


class ToDevice(Op):
    """Copy to another device; the gradient flows back to the source device."""

    saved = ()

    def __init__(self, device: Device) -> None:
        self.device = device

    def compute(self, x: NDArray) -> NDArray:
        return x.to(self.device)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return ToDevice(node._inputs[0].device)(g)


class _Clone(Op):
    saved = ()

    @property
    def name(self) -> str:
        return "clone"

    def compute(self, x: NDArray) -> NDArray:
        return x.copy()

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        return g


# --- helpers shared by the functional API ----------------------------------------------
def _dim(dim: Any, axis: Any) -> Any:
    return axis if dim is None else dim


def _logical_reduce(
    array: NDArray, op: str, dims: tuple[int, ...] | None, keepdim: bool
) -> NDArray:
    """any (op "max") or all ("min") of `array` as bool over `dims` (None: every dim); an
    empty extent gives the identity, False for any and True for all."""
    x = array.astype(dt.bool_)
    axes = tuple(range(x.ndim)) if dims is None else dims
    if any(x.shape[a] == 0 for a in axes):
        shape = tuple(
            1 if d in axes else n for d, n in enumerate(x.shape) if keepdim or d not in axes
        )
        return NDArray.full(shape, op == "min", dt.bool_, x.device)
    return x.reduce(op, dims, keepdim)


def _dims(fn: str, dim: Any, axis: Any, ndim: int) -> tuple[int, ...] | None:
    """A reduction's dims (`dim=` or NumPy's `axis=`), checked: None means every one."""
    return arguments.dims(fn, axis if dim is None else dim, ndim)


def _all_dims(dims: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim)) if dims is None else dims


def _unwrap_key(key: tuple) -> tuple:
    return tuple(k.array if isinstance(k, Tensor) else k for k in key)


def _to_ndarray(data: Any, dtype: object, device: object) -> NDArray:
    """Build an NDArray from Python data, NumPy, a Tensor or an NDArray (copying)."""
    target = get_device(device)
    want = dt.as_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, NDArray):
        array = data.to(target)
        array = array.astype(want) if want is not None else array
        return array.copy() if array is data else array
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flatten(data)):
        data = _nested_numpy(data)
    host = dt.host_array(data)  # np.asarray, refusing ints beyond int64
    if want is None:
        if host.dtype.kind == "f" and isinstance(data, (float, list, tuple)):
            want = dt.float32  # Python floats become float32, as torch's default dtype
        else:
            want = (
                dt.from_numpy_dtype(host.dtype)
                if host.dtype.kind in "biuf" or host.dtype == dt.bfloat16.numpy
                else None
            )
        if want is None:
            raise TypeError(
                f"cannot make a tensor from {type(data).__name__} of dtype {host.dtype}"
            )
    return NDArray.from_numpy(host, target, want)


def _flatten(data: Any) -> Iterator[Any]:
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


def _nested_numpy(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data.detach().numpy()
    if isinstance(data, (list, tuple)):
        return [_nested_numpy(x) for x in data]
    return data


def _coerce_grad(gradient: Any, like: Tensor) -> Tensor:
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=like.dtype, device=like.device)
    if gradient.shape != like.shape:
        raise RuntimeError(f"gradient has shape {gradient.shape}, but the output has {like.shape}")
    if gradient.device is not like.device:
        raise RuntimeError(
            f"gradient is on {gradient.device.name} but the output is on {like.device.name}"
        )
    return gradient


# --- functions over several tensors ----------------------------------------------------
@autocast_op("matmul")
def matmul(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - torch's name
    """The matrix product, NumPy's rules (1-D operands promoted, batch dims broadcast)."""
    if not isinstance(other, Tensor):
        other = Tensor(other, device=input.device)
    return linalg.MatMul()(input, other)


def where(condition: Tensor, input: Any = None, other: Any = None) -> Tensor:  # noqa: A002
    """`input` where condition is true, else `other`; either may be a tensor or a Python
    number. `where(condition)` alone is `nonzero(condition, as_tuple=True)`, as in torch."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    a, b = input, other
    like = next((x for x in (a, b) if isinstance(x, Tensor)), None)
    device = condition.device
    if like is None:
        dtype = dt.promote_scalar(dt.promote_scalar(dt.bool_, a), b)
        a = Tensor._wrap(NDArray.full((), a, dtype, device))
        b = Tensor._wrap(NDArray.full((), b, dtype, device))
    else:
        if not isinstance(a, Tensor):
            a = Tensor._wrap(NDArray.full((), a, dt.promote_scalar(like.dtype, a), device))
        if not isinstance(b, Tensor):
            b = Tensor._wrap(NDArray.full((), b, dt.promote_scalar(like.dtype, b), device))
    return ew.Where()(condition, a, b)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one ndim (at least 1) along an existing dim."""
    tensors = arguments.tensor_list("cat", tensors, Tensor, at_least_1d=True)
    axis = normalize_axis(dim, tensors[0].ndim)
    return shape_ops.Cat(axis)(*tensors)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim."""
    tensors = arguments.tensor_list("stack", tensors, Tensor)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack() needs tensors of one shape, got {sorted(shapes)}")
    axis = normalize_axis(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(axis) for t in tensors], axis)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """torch.split: pieces of a given size (the last may be smaller), or explicit sizes."""
    if x.ndim == 0:
        raise ValueError("split(): expects a tensor of at least 1 dimension, got a 0-d one")
    axis = normalize_axis(dim, x.ndim)
    sizes = arguments.split_sizes(split_size_or_sections, x.shape[axis], dim)
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(x[(slice(None),) * axis + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """torch.chunk: at most `chunks` pieces of ceil(size / chunks); an empty dim gives
    `chunks` empty pieces, as in torch."""
    chunks = arguments.integer("chunk", "chunks", chunks, minimum=1)
    if x.ndim == 0:
        raise ValueError("chunk(): expects a tensor of at least 1 dimension, got a 0-d one")
    total = x.shape[normalize_axis(dim, x.ndim)]
    return split(x, -(-total // chunks) if total else [0] * chunks, dim)


def pad(x: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """torch.nn.functional.pad, constant mode: pairs from the last dimension backwards."""
    return shape_ops.Pad(tuple(int(p) for p in pad), value)(x)


def one_hot(indices: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (..., num_classes) with a 1 at each index (no gradient)."""
    if indices.dtype is not dt.int64:
        raise TypeError(f"one_hot needs int64 indices, got {indices.dtype.name}")
    num_classes = arguments.integer(
        "one_hot", "num_classes", num_classes, -1, "a non-negative int, or -1 to infer it"
    )
    if num_classes == -1:
        if not indices.numel():
            raise ValueError(
                "one_hot(): cannot infer num_classes from an empty tensor; pass num_classes"
            )
        num_classes = int(indices.array.reduce("max").item()) + 1
    classes = NDArray.from_numpy(np.arange(num_classes, dtype=np.int64), indices.device)
    expanded = indices.array.unsqueeze(-1)
    if indices.numel():
        low, high = indices.array.reduce("min").item(), indices.array.reduce("max").item()
        if low < 0 or high >= num_classes:
            raise IndexError(
                f"one_hot: class values must lie in [0, {num_classes}), got {low}..{high}"
            )
    return Tensor._wrap(expanded.binary("eq", classes).astype(dt.int64))


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    return gather_ops.Gather(dim)(x, index)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """input + zeros with src added at index along dim (out of place)."""
    return input + gather_ops.ScatterAdd(dim, input.shape)(index, src)
