"""DLPack (the legacy `dltensor` capsule) with the CUDA device type, kDLCUDA = 2: cuda buffers go
to torch or CuPy and come back without a copy.

Export makes a DLManagedTensor over the view's memory that keeps the buffer alive until the
consumer calls its deleter (or the capsule dies unconsumed). Import takes the producer's
capsule, renames it `used_dltensor` as the protocol asks, and wraps the memory in a CudaBuffer
that calls the producer's deleter when the last view of it goes away. Both synchronise streams
so neither side reads memory the other is still writing.

The emulated device's memory is host memory under the CUDA device type: it crosses only between
plugrad's own cuda tensors (another library's CUDA memory is refused, and a CUDA-enabled
consumer must not be handed an emulated tensor).
"""

from __future__ import annotations

import ctypes
import threading

from . import checks, dtypes
from .buffer import CudaBuffer

KDL_CUDA = 2
_KDL_INT, _KDL_UINT, _KDL_FLOAT, _KDL_BFLOAT, _KDL_BOOL = 0, 1, 2, 4, 6
_CODES = {"float": _KDL_FLOAT, "int": _KDL_INT, "uint": _KDL_UINT, "bfloat": _KDL_BFLOAT,
          "bool": _KDL_BOOL}  # fmt: skip


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
        ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64),
    ]  # fmt: skip


class DLManagedTensor(ctypes.Structure):
    pass


_Deleter = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter),
]  # fmt: skip

_api = ctypes.pythonapi
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
# The destructor receives a capsule whose reference count already reached zero: it must not
# make a Python reference to it, so it calls these through plain pointers.
_is_valid_raw = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi)
)
_get_pointer_raw = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi)
)

# Exported tensors by DLManagedTensor address: what each keeps alive until its deleter runs.
_exported: dict[int, tuple] = {}
_lock = threading.Lock()


@_Deleter
def _delete_exported(managed) -> None:
    with _lock:
        _exported.pop(ctypes.addressof(managed.contents), None)


_DELETER_ADDRESS = ctypes.cast(_delete_exported, ctypes.c_void_p).value

_CapsuleDestructor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@_CapsuleDestructor
def _capsule_destructor(capsule) -> None:
    """An unconsumed capsule dies: release what it kept alive (a consumed one, renamed
    `used_dltensor`, belongs to its consumer)."""
    if _is_valid_raw(capsule, b"dltensor"):
        address = _get_pointer_raw(capsule, b"dltensor")
        with _lock:
            _exported.pop(address, None)


def _dl_dtype(name: str) -> DLDataType:
    info = dtypes.BY_NAME[name]
    kind = "bool" if name == "bool" else ("float" if info.is_floating else "int")
    kind = {"uint8": "uint", "bfloat16": "bfloat"}.get(name, kind)
    return DLDataType(_CODES[kind], info.itemsize * 8, 1)


def _from_dl_dtype(dtype: DLDataType) -> str:
    for d in dtypes.TABLE:
        wanted = _dl_dtype(d.name)
        if (wanted.code, wanted.bits, wanted.lanes) == (dtype.code, dtype.bits, dtype.lanes):
            return d.name
    raise BufferError(
        f"cuda cannot hold DLPack dtype code {dtype.code} bits {dtype.bits} lanes {dtype.lanes}; "
        f"it stores {', '.join(dtypes.NAMES)}"
    )


class DLPackMixin:
    def dlpack_device(self) -> tuple[int, int]:
        """`__dlpack_device__` of this backend's tensors: (kDLCUDA, device index)."""
        return (KDL_CUDA, self.index)

    def to_dlpack(self, x, stream=None) -> object:
        """A `dltensor` capsule over the view `x` (no copy). Queued work finishes first, so the
        consumer's stream (whichever it is) sees the finished values."""
        checks.check(x, "to_dlpack")
        self.synchronize()
        ndim = len(x.shape)
        shape = (ctypes.c_int64 * max(ndim, 1))(*x.shape)
        strides = (ctypes.c_int64 * max(ndim, 1))(*x.strides)
        managed = DLManagedTensor()
        managed.dl_tensor = DLTensor(self.address(x) if x.buffer.address else None,
                                     DLDevice(KDL_CUDA, self.index), ndim, _dl_dtype(x.dtype),
                                     shape, strides, 0)  # fmt: skip
        managed.manager_ctx = None
        managed.deleter = _delete_exported
        address = ctypes.addressof(managed)
        with _lock:
            _exported[address] = (managed, shape, strides, x.buffer)
        destructor = ctypes.cast(_capsule_destructor, ctypes.c_void_p)
        return _api.PyCapsule_New(address, b"dltensor", destructor)

    def from_dlpack(self, obj) -> tuple:
        """(buffer, shape, strides, offset, dtype) of a DLPack producer's CUDA memory, shared."""
        stream = getattr(self.runtime, "stream_handle", None)
        capsule = obj.__dlpack__(stream=stream) if stream is not None else obj.__dlpack__()
        address = _api.PyCapsule_GetPointer(capsule, b"dltensor")
        managed = DLManagedTensor.from_address(address)
        t = managed.dl_tensor
        if (t.device.device_type, t.device.device_id) != (KDL_CUDA, self.index):
            raise BufferError(
                f"{self.name} takes DLPack tensors of device (kDLCUDA, {self.index}), got "
                f"({t.device.device_type}, {t.device.device_id})"
            )
        ours = ctypes.cast(managed.deleter, ctypes.c_void_p).value == _DELETER_ADDRESS
        if self.runtime.emulated and not ours:
            raise BufferError(
                "the emulated cuda device holds host memory and takes DLPack tensors only from "
                "plugrad's own cuda tensors, not another library's CUDA memory"
            )
        dtype = _from_dl_dtype(t.dtype)
        item = dtypes.BY_NAME[dtype].itemsize
        shape = tuple(t.shape[i] for i in range(t.ndim))
        if t.strides:
            strides = tuple(t.strides[i] for i in range(t.ndim))
        else:
            strides = checks.compact_strides(shape)
        _api.PyCapsule_SetName(capsule, b"used_dltensor")
        owner = _Imported(address, managed)
        n, low, high = checks.extent(shape, strides, "from_dlpack")
        first = (t.data or 0) + t.byte_offset + low * item
        size = high - low + 1 if n else 0
        buffer = CudaBuffer.wrap(first if n else 0, size, dtype, owner, self.index)
        return buffer, shape, strides, -low if n else 0, dtype


class _Imported:
    """Calls the producer's deleter when the last buffer over its memory goes away."""

    def __init__(self, address: int, managed: DLManagedTensor) -> None:
        self.address = address
        self.deleter = managed.deleter

    def __del__(self) -> None:
        if self.deleter:
            self.deleter(ctypes.cast(self.address, ctypes.POINTER(DLManagedTensor)))
