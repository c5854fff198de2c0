"""The CUDA backend's buffers and elementwise kernels, and the launch helpers every kernel
family uses. The same code drives the GPU and the emulated runtime: only `runtime` differs."""

from __future__ import annotations

import ctypes
import math

import numpy as np

from . import checks, dtypes, layout
from .allocator import CachingAllocator
from .buffer import CudaBuffer
from .checks import VALID
from .launch import Geometry, Params, i64, ptr
from .ops import BINARY_CODES, SCALAR_LEFT, SCALAR_NONE, SCALAR_RIGHT, UNARY_CODES

THREADS = 256  # PG_BLOCK
MAX_BLOCKS = 1 << 20
BINARY_UNROLL = 4  # binary_contiguous's U in kernels/elementwise.cu
_MAX_ELEMS = 1 << 56
_BITS = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}


def scalar_param(value, dtype: str) -> ctypes._SimpleCData:
    """`value` converted to `dtype`, as a kernel parameter of that type's size and bits."""
    info = dtypes.BY_NAME[dtype]
    bits = np.array(value, dtype=info.numpy).view(f"u{info.itemsize}")
    return _BITS[info.itemsize](int(bits))


def _contiguous(lay, operands: int) -> bool:
    """pg::contiguous: every operand one run of stride 1."""
    return lay.nd == 1 and all(lay.strides[k][0] == 1 for k in range(operands))


class View:
    """A Strided-like compact view of a scratch buffer the backend makes for itself."""

    __slots__ = ("buffer", "shape", "strides", "offset", "dtype")

    def __init__(self, buffer: CudaBuffer, shape, strides=None, offset: int = 0) -> None:
        self.buffer = buffer
        self.shape = tuple(shape)
        self.strides = checks.compact_strides(self.shape) if strides is None else tuple(strides)
        self.offset = offset
        self.dtype = buffer.dtype


class BaseKernels:
    """Buffers, copies and elementwise kernels (see `plugrad.backend.protocol.Backend`)."""

    is_host = False
    dtypes = dtypes.NAMES

    def __init__(self, runtime, index: int = 0) -> None:
        self.runtime = runtime
        self.index = index
        self.name = "cuda" if index == 0 else f"cuda:{index}"
        self.allocator = CachingAllocator(runtime)
        self._functions: dict[str, object] = {}

    # --- launching -----------------------------------------------------------------------
    def launch(self, name: str, geometry: Geometry, *values) -> None:
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = self.runtime.function(name)
        self.runtime.launch(name, function, geometry, Params(values))

    def launch_elements(self, name: str, n: int, *values, per_thread: int = 1) -> None:
        """A grid-stride kernel over n elements, THREADS a block, each thread taking
        `per_thread` elements a pass, at most as many blocks as the runtime wants in flight
        (the emulator, one core, wants few: each thread then walks many elements)."""
        blocks = -(-n // (THREADS * per_thread))
        blocks = max(1, min(blocks, self.runtime.grid_stride_blocks))
        self.launch(name, Geometry((blocks, 1, 1), (THREADS, 1, 1), 0), *values)

    @staticmethod
    def address(x) -> int:
        """The device address of a view's first element (offset applied)."""
        return x.buffer.address + x.offset * dtypes.BY_NAME[x.dtype].itemsize

    def ptr(self, x) -> ctypes.c_uint64:
        return ptr(self.address(x))

    def scratch(self, shape, dtype: str) -> View:
        return View(self.allocate(math.prod(shape), dtype), shape)

    def widened(self, x) -> View:
        """A compact float32 copy of a (16-bit float) view."""
        wide = self.scratch(x.shape, "float32")
        self.cast(x, wide)
        return wide

    def on_float32(self, kernel, inputs, outputs, inplace: bool = False) -> None:
        """kernel(*inputs, *outputs) on float32 copies of the 16-bit float operands (GEMM,
        convolution, fused kernels: they accumulate in float32), the outputs then rounded back
        once (widened from their values first when `inplace`); other operands as they are."""
        wide_in = [self.widened(x) if x.dtype in dtypes.HALVES else x for x in inputs]
        wide_out = [
            (self.widened(o) if inplace else self.scratch(o.shape, "float32"))
            if o.dtype in dtypes.HALVES else o
            for o in outputs
        ]  # fmt: skip
        kernel(*wide_in, *wide_out)
        for o, wide in zip(outputs, wide_out, strict=True):
            if wide is not o:
                self.cast(wide, o)

    # --- buffers -------------------------------------------------------------------------
    def allocate(self, size, dtype):
        size = VALID.allocation(size, dtype)
        if size > _MAX_ELEMS:
            raise MemoryError(f"cuda cannot allocate {size} elements of {dtype}")
        return CudaBuffer(self.allocator, size, dtype, self.index)

    def from_numpy(self, array, copy=True):
        host, _ = VALID.host_array(array, copy)  # device memory is always a copy
        host = np.ascontiguousarray(host)
        buf = self.allocate(host.size, dtypes.FROM_NUMPY[host.dtype])
        if host.size:
            self.runtime.upload(buf.address, host)
        return buf

    def to_numpy(self, x):
        n = checks.check(x, "to_numpy")
        np_dtype = dtypes.BY_NAME[x.dtype].numpy
        host = np.empty(x.shape, dtype=np_dtype)
        if n == 0:
            return host
        if not checks.has_compact_strides(x):
            tmp = self.scratch(x.shape, x.dtype)
            self.compact(x, tmp)
            x = tmp
        self.runtime.download(host, self.address(x))
        return host

    def fill(self, out, value):
        n = VALID.fill(out, value)
        if not n:
            return
        size = dtypes.BY_NAME[out.dtype].itemsize
        lay = layout.make(out.shape, out.strides)
        self.launch_elements(f"pg_fill_{size}", n, self.ptr(out), scalar_param(value, out.dtype),
                             lay, i64(n))  # fmt: skip

    def compact(self, x, out):
        self._copy(x, out, "compact")

    def assign(self, x, out):
        self._copy(x, out, "assign")

    def _copy(self, x, out, what):
        n = VALID.copy(what, x, out)
        if not n:
            return
        size = dtypes.BY_NAME[x.dtype].itemsize
        lay = layout.make(out.shape, out.strides, x.strides)
        if _contiguous(lay, 2):
            if self.address(x) != self.address(out):
                self.runtime.copy(self.address(out), self.address(x), n * size)
            return
        self.launch_elements(f"pg_copy_{size}", n, self.ptr(out), self.ptr(x), lay, i64(n))

    # --- elementwise ---------------------------------------------------------------------
    def unary(self, op, x, out):
        n = VALID.unary(op, x, out)
        code = UNARY_CODES[op]
        if n:
            lay = layout.make(out.shape, out.strides, x.strides)
            self.launch_elements(f"pg_unary_{x.dtype}", n, i64(code), self.ptr(out), self.ptr(x),
                                 lay, i64(n))  # fmt: skip

    def _binary(self, n, op, out, a, a_strides, b, b_strides, scalar, side):
        code = BINARY_CODES[op]
        if n:
            lay = layout.make(out.shape, out.strides, a_strides, b_strides)
            # the contiguous array-array path of pg_binary takes BINARY_UNROLL elements a pass
            unroll = BINARY_UNROLL if side == SCALAR_NONE and _contiguous(lay, 3) else 1
            self.launch_elements(f"pg_binary_{a.dtype}", n, i64(code), self.ptr(out), self.ptr(a),
                                 self.ptr(b), scalar, i64(side), lay, i64(n),
                                 per_thread=unroll)  # fmt: skip

    def binary(self, op, a, b, out):
        n = VALID.binary(op, a, b, out)
        zero = scalar_param(0, dtypes.compute(a.dtype))
        self._binary(n, op, out, a, a.strides, b, b.strides, zero, SCALAR_NONE)

    def scalar(self, op, a, value, out, reflected):
        n = VALID.scalar(op, a, value, out)
        side = SCALAR_LEFT if reflected else SCALAR_RIGHT
        value = scalar_param(value, dtypes.compute(a.dtype))  # 16-bit floats: in float32
        self._binary(n, op, out, a, a.strides, a, a.strides, value, side)

    def where(self, cond, a, b, out):
        n = VALID.where(cond, a, b, out)
        if n:
            lay = layout.make(out.shape, out.strides, cond.strides, a.strides, b.strides)
            self.launch_elements(f"pg_where_{out.dtype}", n, self.ptr(out), self.ptr(cond),
                                 self.ptr(a), self.ptr(b), lay, i64(n))  # fmt: skip

    def cast(self, x, out):
        n = VALID.cast(x, out)
        if n:
            lay = layout.make(out.shape, out.strides, x.strides)
            self.launch_elements(f"pg_cast_{x.dtype}", n, i64(dtypes.CODE[out.dtype]),
                                 self.ptr(out), self.ptr(x), lay, i64(n))  # fmt: skip

    # --- accounting ----------------------------------------------------------------------
    def allocated_bytes(self):
        return self.allocator.allocated

    def cached_bytes(self) -> int:
        """Bytes of freed blocks the caching allocator keeps for reuse."""
        return self.allocator.cached

    def memory_stats(self) -> dict[str, int]:
        return {
            "allocated_bytes": self.allocator.allocated,
            "cached_bytes": self.allocator.cached,
            "peak_allocated_bytes": self.allocator.peak,
        }

    def empty_cache(self) -> None:
        """Return the cached blocks to the device."""
        self.allocator.empty_cache()

    def synchronize(self):
        self.runtime.synchronize()
