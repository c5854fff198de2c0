"""The c_cpu backend object: argument checks in Python, kernels in C (see csrc/).

Every kernel validates its operands before the C call with the core's shared checks
(`plugrad.backend.validation`: buffer type, dtype, shapes, axes, scalars, element counts, and
that each view's smallest and largest element offset lie inside its buffer), so no argument can
make the C code read or write outside its buffers; the C entry points check their counts again.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from plugrad import dtypes as _dt
from plugrad.backend.validation import Validator, has_compact_strides

from ._native import ffi, lib

# Every plugrad dtype, in the order of the C codes (csrc/pg.h). float16 and bfloat16 are stored
# as 16 bits and computed in float32: elementwise ops, casts, sorts, scans and scatter_add in C
# directly; reductions, matmul, convolution and the fused kernels on float32 copies (_half).
_DTYPES = ("float32", "float64", "int64", "bool", "int8", "int16", "int32", "uint8",
           "float16", "bfloat16")  # fmt: skip
_CODE = {name: i for i, name in enumerate(_DTYPES)}
_NP = {name: _dt.ALL[name].numpy for name in _DTYPES}
_ITEMSIZE = {name: _dt.ALL[name].itemsize for name in _DTYPES}
_NP_TO_NAME = {v: k for k, v in _NP.items()}
_HALF = ("float16", "bfloat16")

_UNARY = {
    name: i
    for i, name in enumerate(
        ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sign", "sin", "cos",
         "erf", "floor", "ceil", "logical_not", "bitwise_not")
    )
}  # fmt: skip
_BINARY = {
    name: i
    for i, name in enumerate(
        ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "logical_and", "logical_or",
         "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
         "bitwise_right_shift", "eq", "ne", "lt", "le", "gt", "ge")
    )
}  # fmt: skip
_REDUCE = {"sum": 0, "max": 1, "min": 2, "prod": 3}
_ARG_REDUCE = {"argmax": 0, "argmin": 1}
_SCAN = {"sum": 0, "prod": 1, "max": 2, "min": 3, "logaddexp": 4}
_MAXD = 32
_PLANS: dict = {}
_EMPTY_OUT = object()
_EMPTY_EXTENT = object()
_FLOATS = ("float32", "float64", *_HALF)
_SCALAR_C = {"float32": "float[1]", "float64": "double[1]"}
_ERRORS = {
    -1: (ValueError, "invalid arguments"),
    -2: (MemoryError, "out of memory for scratch space"),
    -3: (IndexError, "index out of range"),
}


# Memory from pg_alloc (64-byte aligned, counted), freed by pg_free when its cdata dies; NULL
# raises MemoryError. One call, where pg_alloc plus ffi.gc took two.
_new_memory = ffi.new_allocator(lib.pg_alloc, lib.pg_free, should_clear_after_alloc=False)


class CBuffer:
    """A flat c_cpu buffer: 64-byte aligned C memory (or a shared NumPy array's memory).

    `array` is a 1-D NumPy view of the memory (made on first use); it keeps the memory alive,
    and the memory is freed when the last reference to the buffer (or a NumPy view of it)
    goes away.
    """

    __slots__ = ("ptr", "size", "dtype", "_array", "__weakref__")

    def __init__(self, ptr, size: int, dtype: str, array: np.ndarray | None = None) -> None:
        self.ptr = ptr
        self.size = size
        self.dtype = dtype
        self._array = array

    @property
    def array(self) -> np.ndarray:
        array = self._array
        if array is None:
            nbytes = self.size * _ITEMSIZE[self.dtype]
            array = np.frombuffer(ffi.buffer(self.ptr, nbytes), dtype=_NP[self.dtype])
            self._array = array
        return array

    @property
    def nbytes(self) -> int:
        return self.size * _ITEMSIZE[self.dtype]

    def __repr__(self) -> str:
        return f"CBuffer(size={self.size}, dtype={self.dtype})"


def _raise(code: int, what: str) -> None:
    kind, message = _ERRORS.get(code, (RuntimeError, f"error code {code}"))
    raise kind(f"c_cpu {what}: {message}")


# The int64 metadata arrays the C entry points read, cached by layout (tuples of ints): layouts
# repeat from call to call. Emptied when it grows past _CACHE_MAX entries. (The shared
# validation caches its own checks of each layout the same way.)
_CACHE_MAX = 4096
_METAS: dict = {}


# The shared argument checks; `_check(x, what, dtype=None)` validates one operand and returns
# its element count.
_VALID = Validator("c_cpu", CBuffer, _DTYPES, max_dims=_MAXD)
_check = _VALID.view


def _ptr(x):
    off = x.offset
    if off:
        return x.buffer.ptr + off * _ITEMSIZE[x.dtype]
    return x.buffer.ptr


_COMPACT: dict = {}


def _compact_strides(shape) -> tuple[int, ...]:
    try:
        return _COMPACT[shape]
    except (KeyError, TypeError):
        pass
    strides = []
    acc = 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(int(s), 1)
    result = tuple(reversed(strides))
    try:
        if len(_COMPACT) >= _CACHE_MAX:
            _COMPACT.clear()
        _COMPACT[shape] = result
    except TypeError:
        pass
    return result


def _has_compact_strides(x) -> bool:
    """Row-major strides (any stride on a size-1 dim); the offset may be anything."""
    return x.strides == _compact_strides(x.shape) or has_compact_strides(x.shape, x.strides)


def _meta(shape, *strides) -> object:
    """The int64 metadata array [ndim, shape, strides...] (cached; the C side only reads it)."""
    key = (shape, *strides)
    try:
        return _METAS[key]
    except KeyError:
        pass
    except TypeError:
        key = None
    values = [len(shape), *shape]
    for st in strides:
        values.extend(st)
    meta = ffi.new("int64_t[]", values)
    if key is not None:
        if len(_METAS) >= _CACHE_MAX:
            _METAS.clear()
        _METAS[key] = meta
    return meta


def _scalar_ptr(value, dtype: str):
    """A char* to `value` converted to `dtype`, and the object that owns the memory."""
    ctype = _SCALAR_C.get(dtype)
    if ctype is not None and type(value) in (float, int):
        try:
            cell = ffi.new(ctype, (value,))
        except OverflowError:  # an int too large for a double: let NumPy convert it
            pass
        else:
            return ffi.cast("char *", cell), cell
    tmp = np.empty((), dtype=_NP[dtype])
    tmp[...] = value
    return ffi.cast("char *", tmp.ctypes.data), tmp


class _View:
    """A Strided-like view the backend makes for its own scratch buffers."""

    __slots__ = ("buffer", "shape", "strides", "offset", "dtype")

    def __init__(self, buffer: CBuffer, shape) -> None:
        self.buffer = buffer
        self.shape = tuple(shape)
        self.strides = _compact_strides(self.shape)
        self.offset = 0
        self.dtype = buffer.dtype


class CCpuBackend:
    """The C CPU implementation of `plugrad.backend.protocol.Backend`."""

    name = "c_cpu"
    dtypes = _DTYPES
    is_host = True
    priority = 100

    def __init__(self) -> None:
        env = os.environ.get("PLUGRAD_NUM_THREADS", "").strip()
        if env:
            try:
                n = int(env)
            except ValueError:
                n = 0
            if n >= 1:
                lib.pg_set_num_threads(n)

    # --- threads and SIMD ------------------------------------------------------------------
    def set_num_threads(self, n: int) -> None:
        """Threads the kernels may use (OpenMP); 1 runs everything on the calling thread."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"set_num_threads expects an integer >= 1, got {n!r}")
        lib.pg_set_num_threads(int(n))
        if n > 1 and not lib.pg_threads_usable():
            warnings.warn(
                f"c_cpu runs on 1 thread, not {n}: this process was forked from one whose "
                "OpenMP (libgomp) threads had started, and libgomp cannot start threads in a "
                "forked child; use the 'spawn' or 'forkserver' start method for multi-threaded "
                "workers",
                RuntimeWarning,
                stacklevel=3,
            )

    def get_num_threads(self) -> int:
        return int(lib.pg_get_num_threads())

    @staticmethod
    def simd_level() -> str:
        """The SIMD level of the CPU: 'avx512', 'avx2' or 'portable'."""
        return {3: "avx512", 2: "avx2"}.get(int(lib.pg_simd_level()), "portable")

    @staticmethod
    def set_gemm_kernel(level: str | None) -> str:
        """Pick the GEMM micro-kernel ('avx512', 'avx2', 'portable'; None for the best the CPU
        supports). A level the CPU lacks falls back to the best it has. Returns the one used."""
        code = {"avx512": 3, "avx2": 2, "portable": 0, None: -1}.get(level)
        if code is None:
            raise ValueError(f"unknown GEMM kernel {level!r}: use avx512, avx2, portable or None")
        return {3: "avx512", 2: "avx2"}.get(int(lib.pg_set_simd_level(code)), "portable")

    # --- buffers ---------------------------------------------------------------------------
    def allocate(self, size, dtype):
        if type(size) is not int or dtype not in _CODE or size < 0:
            size = _VALID.allocation(size, dtype)
        nbytes = size * _ITEMSIZE[dtype]
        try:
            memory = _new_memory("char[]", nbytes)
        except (MemoryError, OverflowError):
            raise MemoryError(
                f"c_cpu could not allocate {nbytes} bytes ({size} x {dtype})"
            ) from None
        return CBuffer(memory, size, dtype)

    def from_numpy(self, array, copy=True):
        array, share = _VALID.host_array(array, copy)
        name = _NP_TO_NAME[array.dtype]
        if not share:
            buf = self.allocate(array.size, name)
            buf.array[...] = array
            return buf
        ptr = ffi.cast("char *", array.ctypes.data)
        return CBuffer(ptr, array.size, name, array)

    def to_numpy(self, x):
        n = _check(x, "to_numpy")
        dtype = _NP[x.dtype]
        if n == 0:
            return np.empty(x.shape, dtype=dtype)
        item = _ITEMSIZE[x.dtype]
        return np.ndarray(
            x.shape,
            dtype=dtype,
            buffer=x.buffer.array,
            offset=x.offset * item,
            strides=tuple(s * item for s in x.strides),
        )

    def fill(self, out, value):
        if not _VALID.fill(out, value):
            return
        src, keep = _scalar_ptr(value, out.dtype)
        zeros = (0,) * len(out.shape)
        meta = _meta(out.shape, out.strides, zeros)
        code = lib.pg_copy(_ITEMSIZE[out.dtype], _ptr(out), src, meta)
        del keep
        if code:
            _raise(code, "fill")

    def compact(self, x, out):
        self._copy(x, out, "compact")

    def assign(self, x, out):
        self._copy(x, out, "assign")

    def _copy(self, x, out, what):
        if _VALID.copy(what, x, out):
            meta = _meta(out.shape, out.strides, x.strides)
            code = lib.pg_copy(_ITEMSIZE[x.dtype], _ptr(out), _ptr(x), meta)
            if code:
                _raise(code, what)

    @staticmethod
    def _float_dtype(what: str, dtype: str) -> int:
        """The C code of a floating dtype; TypeError for the others (matmul, conv, fused)."""
        if dtype not in _FLOATS:
            raise TypeError(f"c_cpu {what} supports {', '.join(_FLOATS)}, not {dtype}")
        return _CODE[dtype]

    @staticmethod
    def _done(code: int, what: str) -> None:
        if code:
            _raise(code, what)

    # --- elementwise -----------------------------------------------------------------------
    def unary(self, op, x, out):
        if _VALID.unary(op, x, out):
            code = _UNARY[op]
            meta = _meta(out.shape, out.strides, x.strides)
            err = lib.pg_unary(code, _CODE[x.dtype], _ptr(out), _ptr(x), meta)
            if err:
                _raise(err, op)

    def binary(self, op, a, b, out):
        if _VALID.binary(op, a, b, out):
            meta = _meta(out.shape, out.strides, a.strides, b.strides)
            err = lib.pg_binary(_BINARY[op], _CODE[a.dtype], _ptr(out), _ptr(a), _ptr(b), meta)
            if err:
                _raise(err, op)

    def scalar(self, op, a, value, out, reflected):
        if not _VALID.scalar(op, a, value, out):
            return
        half = a.dtype in _HALF  # the scalar in float32, where the op computes
        sp, keep = _scalar_ptr(value, "float32" if half else a.dtype)
        zeros = (0,) * len(a.shape)
        code, dt = _BINARY[op], _CODE[a.dtype]
        if reflected:
            meta = _meta(out.shape, out.strides, zeros, a.strides)
            err = lib.pg_binary_ex(code, dt, _ptr(out), sp, _ptr(a), meta, 1 if half else 0)
        else:
            meta = _meta(out.shape, out.strides, a.strides, zeros)
            err = lib.pg_binary_ex(code, dt, _ptr(out), _ptr(a), sp, meta, 2 if half else 0)
        del keep
        if err:
            _raise(err, op)

    def where(self, cond, a, b, out):
        if _VALID.where(cond, a, b, out):
            meta = _meta(out.shape, out.strides, cond.strides, a.strides, b.strides)
            code = lib.pg_where(_CODE[out.dtype], _ptr(out), _ptr(cond), _ptr(a), _ptr(b), meta)
            self._done(code, "where")

    def cast(self, x, out):
        if _VALID.cast(x, out):
            meta = _meta(out.shape, out.strides, x.strides)
            code = lib.pg_cast(_CODE[x.dtype], _CODE[out.dtype], _ptr(out), _ptr(x), meta)
            self._done(code, "cast")

    # --- reductions ------------------------------------------------------------------------
    @staticmethod
    def _reduced_out_strides(x, axes, out) -> list[int]:
        """out's strides laid over x's dims (0 on the reduced axes); out has the reduced axes
        dropped or kept as 1 (the shared validation checked which)."""
        if len(out.shape) == len(x.shape):
            return [0 if d in axes else out.strides[d] for d in range(len(x.shape))]
        it = iter(out.strides)
        return [0 if d in axes else next(it) for d in range(len(x.shape))]

    def reduce(self, op, x, axes, out):
        if x.dtype in _HALF:
            _check(out, "reduce", x.dtype, "out")  # out as given, not its float32 copy
            self._half(lambda x32, out32: self.reduce(op, x32, axes, out32), (x,), (out,))
            return
        _check(x, "reduce")
        _check(out, "reduce", x.dtype, "out")
        try:
            key = (op, x.shape, x.strides, tuple(axes), out.shape, out.strides)
            plan = _PLANS.get(key)
        except TypeError:
            key = plan = None
        if plan is None:
            axes = _VALID.reduce_rule(op, x, axes, out)
            plan = self._reduce_plan(x, axes, out)
            if key is not None:
                if len(_PLANS) >= _CACHE_MAX:
                    _PLANS.clear()
                _PLANS[key] = plan
        if plan is _EMPTY_OUT:
            return
        if plan is _EMPTY_EXTENT:  # (sum and prod only: the validation refuses max and min)
            self.fill(out, 0 if op == "sum" else 1)
            return
        err = lib.pg_reduce(_REDUCE[op], _CODE[x.dtype], _ptr(out), _ptr(x), plan)
        if err:
            _raise(err, op)

    def _reduce_plan(self, x, axes, out):
        """The metadata of a reduction's layout, or a marker for an empty output or extent."""
        if math.prod(out.shape) == 0:
            return _EMPTY_OUT
        if math.prod(x.shape[a] for a in axes) == 0:
            return _EMPTY_EXTENT
        ostrides = self._reduced_out_strides(x, axes, out)
        nd = len(x.shape)
        flags = [1 if d in axes else 0 for d in range(nd)]
        values = [nd, *x.shape, *x.strides, *ostrides, *flags]
        return ffi.new("int64_t[]", values)

    def arg_reduce(self, op, x, axis, out):
        if x.dtype in _HALF:
            _VALID.arg_reduce(op, x, axis, out)
            self.arg_reduce(op, self._widened(x), axis, out)
            return
        axis = _VALID.arg_reduce(op, x, axis, out)
        nd = len(x.shape)
        ostrides = self._reduced_out_strides(x, (axis,), out)
        kept = [d for d in range(nd) if d != axis]
        shape = [x.shape[d] for d in kept]
        if math.prod(shape) == 0:
            return
        n = x.shape[axis]
        meta = _meta(shape, [x.strides[d] for d in kept], [ostrides[d] for d in kept])
        code = lib.pg_arg_reduce(
            _ARG_REDUCE[op], _CODE[x.dtype], _ptr(out), _ptr(x), meta, n, x.strides[axis]
        )
        self._done(code, op)

    # --- order and scans -------------------------------------------------------------------
    def sort(self, x, axis, descending, values_out, indices_out):
        axis, n = _VALID.sort(x, axis, descending, values_out, indices_out)
        if n:
            meta = _meta(x.shape, x.strides, values_out.strides)
            code = lib.pg_sort(_CODE[x.dtype], int(bool(descending)), _ptr(values_out),
                               _ptr(indices_out), _ptr(x), meta, axis)  # fmt: skip
            self._done(code, f"sort {x.shape} along {axis}")

    def scan(self, op, x, axis, out, indices_out):
        axis, n = _VALID.scan(op, x, axis, out, indices_out)
        if n:
            meta = _meta(x.shape, x.strides, out.strides)
            indices = ffi.NULL if indices_out is None else _ptr(indices_out)
            code = lib.pg_scan(_SCAN[op], _CODE[x.dtype], _ptr(out), indices, _ptr(x), meta, axis)
            self._done(code, f"scan {op} {x.shape} along {axis}")

    # --- linear algebra and convolution ----------------------------------------------------
    def _scratch(self, like, dtype: str | None = None) -> _View:
        return _View(self.allocate(math.prod(like.shape), dtype or like.dtype), like.shape)

    def _widened(self, x) -> _View:
        """A compact float32 copy of a 16-bit float view."""
        wide = self._scratch(x, "float32")
        self.cast(x, wide)
        return wide

    def _half(self, kernel, inputs, outputs, inplace: bool = False) -> None:
        """kernel(*inputs, *outputs) on float32 copies of the 16-bit float operands, the outputs
        then rounded back once (from their values when `inplace`); other operands as they are."""
        wide_in = [self._widened(x) if x.dtype in _HALF else x for x in inputs]
        wide_out = [
            (self._widened(o) if inplace else self._scratch(o, "float32")) if o.dtype in _HALF
            else o
            for o in outputs
        ]  # fmt: skip
        kernel(*wide_in, *wide_out)
        for o, wide in zip(outputs, wide_out, strict=True):
            if wide is not o:
                self.cast(wide, o)

    def _compacted(self, x):
        if _has_compact_strides(x):
            return x
        tmp = self._scratch(x)
        self.compact(x, tmp)
        return tmp

    def matmul(self, a, b, out):
        dt = a.dtype
        if dt in _HALF:  # accumulate in float32, round once
            _VALID.matmul(a, b, out)
            self._half(self.matmul, (a, b), (out,))
            return
        if dt not in _FLOATS:  # (the plans below are cached by layout, not dtype)
            self._float_dtype("matmul", dt)
        _check(a, "matmul", None, "a")
        _check(b, "matmul", dt, "b")
        _check(out, "matmul", dt, "out")
        try:
            key = (a.shape, a.strides, b.shape, b.strides, out.shape, out.strides)
            plan = _PLANS.get(key)
        except TypeError:
            key = plan = None
        if plan is None:
            plan = self._matmul_plan(a, b, out)
            if key is not None:
                if len(_PLANS) >= _CACHE_MAX:
                    _PLANS.clear()
                _PLANS[key] = plan
        if plan is _EMPTY_OUT:
            return
        batch, m, n, k, sab, sam, sak, sbb, sbk, sbn, compact = plan
        target = out if compact else self._scratch(out)
        code = lib.pg_matmul(
            _CODE[dt], batch, m, n, k, _ptr(a), sab, sam, sak, _ptr(b), sbb, sbk, sbn,
            _ptr(target),
        )  # fmt: skip
        if code:
            _raise(code, f"matmul {a.shape} @ {b.shape}")
        if target is not out:
            self.assign(target, out)

    def _matmul_plan(self, a, b, out):
        batch, m, n, k = _VALID.matmul_rule(a, b, out)
        ba, bb = a.shape[0], b.shape[0]
        if batch * m * n == 0:
            return _EMPTY_OUT
        sab = a.strides[0] if ba > 1 else 0
        sbb = b.strides[0] if bb > 1 else 0
        compact = _has_compact_strides(out)
        if batch > 1 and sbb == 0 and sab == m * a.strides[1] and compact:
            # A stack of row blocks times one matrix (a linear layer on (L, N, in)): one GEMM
            # of batch * m rows instead of `batch` small ones.
            batch, m, sab = 1, batch * m, 0
        return (
            batch, m, n, k, sab, a.strides[1], a.strides[2], sbb, b.strides[1], b.strides[2],
            compact,
        )  # fmt: skip

    def _conv(self, what, kernel, inputs, out, geometry):
        """Run one conv kernel on compact copies of the two inputs (checked, with `geometry`,
        by the shared validation), writing through scratch when `out` is not compact."""
        (first_name, first), (second_name, second) = inputs
        code = self._float_dtype(what, first.dtype)
        if first.dtype in _HALF:

            def wide(first32, second32, out32):
                pair = ((first_name, first32), (second_name, second32))
                self._conv(what, kernel, pair, out32, geometry)

            self._half(wide, (first, second), (out,))
            return
        if math.prod(out.shape) == 0:
            return
        geom = ffi.new("int64_t[]", geometry)
        first, second = self._compacted(first), self._compacted(second)
        target = out if _has_compact_strides(out) else self._scratch(out)
        err = kernel(code, _ptr(first), _ptr(second), _ptr(target), geom)
        self._done(err, f"{what} {first_name} {first.shape} {second_name} {second.shape}")
        if target is not out:
            self.assign(target, out)

    def conv2d(self, x, w, out, stride, padding, dilation, groups):
        geometry = _VALID.conv2d(x, w, out, stride, padding, dilation, groups)
        self._conv("conv2d", lib.pg_conv2d, (("x", x), ("w", w)), out, geometry)

    def conv2d_backward_input(self, grad_out, w, grad_x, stride, padding, dilation, groups):
        geometry = _VALID.conv2d_backward_input(
            grad_out, w, grad_x, stride, padding, dilation, groups
        )
        self._conv("conv2d_backward_input", lib.pg_conv2d_backward_input,
                   (("grad_out", grad_out), ("w", w)), grad_x, geometry)  # fmt: skip

    def conv2d_backward_weight(self, x, grad_out, grad_w, stride, padding, dilation, groups):
        geometry = _VALID.conv2d_backward_weight(
            x, grad_out, grad_w, stride, padding, dilation, groups
        )
        self._conv("conv2d_backward_weight", lib.pg_conv2d_backward_weight,
                   (("x", x), ("grad_out", grad_out)), grad_w, geometry)  # fmt: skip

    # --- indexing --------------------------------------------------------------------------
    def gather(self, x, axis, index, out):
        axis, n = _VALID.gather(x, axis, index, out)
        if not n:
            return
        xs = [0 if d == axis else s for d, s in enumerate(x.strides)]
        meta = _meta(index.shape, out.strides, index.strides, xs)
        code = lib.pg_gather(
            _CODE[x.dtype], _ptr(out), _ptr(x), _ptr(index), meta, x.shape[axis],
            x.strides[axis],
        )  # fmt: skip
        self._done(code, f"gather x {x.shape} axis {axis}")

    def scatter_add(self, out, axis, index, src):
        axis, n = _VALID.scatter_add(out, axis, index, src)
        if not n:
            return
        os_ = [0 if d == axis else s for d, s in enumerate(out.strides)]
        meta = _meta(index.shape, os_, index.strides, src.strides)
        code = lib.pg_scatter_add(
            _CODE[out.dtype], _ptr(out), _ptr(index), _ptr(src), meta, out.shape[axis],
            out.strides[axis], axis,
        )  # fmt: skip
        self._done(code, f"scatter_add out {out.shape} axis {axis}")

    # --- optional fused kernels (protocol.FusedKernels) -------------------------------------
    def relu_backward(self, grad, y, out):
        if out.dtype in _HALF:
            _VALID.relu_backward(grad, y, out)  # the operands as given, not their copies
            self._half(self.relu_backward, (grad, y), (out,))
            return
        code = self._float_dtype("relu_backward", out.dtype)
        if _VALID.relu_backward(grad, y, out):
            meta = _meta(out.shape, out.strides, grad.strides, y.strides)
            err = lib.pg_relu_backward(code, _ptr(out), _ptr(grad), _ptr(y), meta)
            self._done(err, "relu_backward")

    def axpy(self, alpha, x, out):
        if out.dtype in _HALF:  # out + alpha * x in float32, rounded once
            _VALID.axpy(alpha, x, out)
            self._half(lambda x32, out32: self.axpy(alpha, x32, out32), (x,), (out,), True)
            return
        code = self._float_dtype("axpy", out.dtype)
        if _VALID.axpy(alpha, x, out):
            meta = _meta(out.shape, out.strides, x.strides)
            self._done(lib.pg_axpy(code, _ptr(out), _ptr(x), float(alpha), meta), "axpy")

    def cross_entropy(self, logits, target, scale, log_probs, loss):
        if logits.dtype in _HALF:
            _VALID.cross_entropy(logits, target, scale, log_probs, loss)

            def wide(logits32, log_probs32, loss32):
                self.cross_entropy(logits32, target, scale, log_probs32, loss32)

            self._half(wide, (logits,), (log_probs, loss))
            return
        code = self._float_dtype("cross_entropy", logits.dtype)
        n, c = _VALID.cross_entropy(logits, target, scale, log_probs, loss)
        s0, s1 = logits.strides
        err = lib.pg_cross_entropy(
            code, _ptr(logits), n, c, s0, s1, _ptr(target), target.strides[0], float(scale),
            _ptr(log_probs), _ptr(loss),
        )  # fmt: skip
        if err == -3:
            raise IndexError(f"c_cpu cross_entropy: a target lies outside [0, {c})")
        self._done(err, "cross_entropy")

    def cross_entropy_backward(self, log_probs, target, grad, scale, out):
        what = "cross_entropy_backward"
        if out.dtype in _HALF:
            _VALID.cross_entropy_backward(log_probs, target, grad, scale, out)

            def wide(log_probs32, grad32, out32):
                self.cross_entropy_backward(log_probs32, target, grad32, scale, out32)

            self._half(wide, (log_probs, grad), (out,))
            return
        code = self._float_dtype(what, out.dtype)
        n, c = _VALID.cross_entropy_backward(log_probs, target, grad, scale, out)
        err = lib.pg_cross_entropy_backward(
            code, _ptr(log_probs), n, c, _ptr(target), target.strides[0], _ptr(grad),
            float(scale), _ptr(out),
        )  # fmt: skip
        if err == -3:
            raise IndexError(f"c_cpu {what}: a target lies outside [0, {c})")
        self._done(err, what)

    def softmax(self, x, out):
        self._softmax("softmax", 0, x, out)

    def log_softmax(self, x, out):
        self._softmax("log_softmax", 1, x, out)

    def softmax_backward(self, y, grad, out):
        self._softmax_backward("softmax_backward", 0, y, grad, out)

    def log_softmax_backward(self, y, grad, out):
        self._softmax_backward("log_softmax_backward", 1, y, grad, out)

    def _softmax(self, what, log, x, out):
        if x.dtype in _HALF:
            # checked as given: the float32 copies would be compact and of one dtype
            _VALID.softmax(what, x, out)
            self._half(lambda x32, out32: self._softmax(what, log, x32, out32), (x,), (out,))
            return
        code = self._float_dtype(what, x.dtype)
        n, c = _VALID.softmax(what, x, out)
        if n:
            self._done(lib.pg_softmax(code, log, _ptr(x), n, c, _ptr(out)), what)

    def _softmax_backward(self, what, log, y, grad, out):
        if y.dtype in _HALF:
            _VALID.softmax_backward(what, y, grad, out)

            def wide(y32, grad32, out32):
                self._softmax_backward(what, log, y32, grad32, out32)

            self._half(wide, (y, grad), (out,))
            return
        code = self._float_dtype(what, y.dtype)
        n, c = _VALID.softmax_backward(what, y, grad, out)
        if n:
            err = lib.pg_softmax_backward(code, log, _ptr(y), _ptr(grad), n, c, _ptr(out))
            self._done(err, what)

    def lstm_gates(self, projected, recurrent, c_prev, gates, c, h):
        self._gates("lstm_gates", lib.pg_lstm_gates, (projected, recurrent, c_prev),
                    (gates, c, h))  # fmt: skip

    def lstm_gates_backward(self, dh, dc, gates, c, c_prev, d_pre, dc_prev):
        self._gates("lstm_gates_backward", lib.pg_lstm_gates_backward,
                    (dh, dc, gates, c, c_prev), (d_pre, dc_prev))  # fmt: skip

    def _gates(self, what, kernel, inputs, outputs):
        check = getattr(_VALID, what)
        if outputs[0].dtype in _HALF:
            check(*inputs, *outputs)  # the operands as given, not their copies
            wide = lambda *views: self._gates(what, kernel, views[: len(inputs)],  # noqa: E731
                                              views[len(inputs) :])  # fmt: skip
            self._half(wide, inputs, outputs)
            return
        code = self._float_dtype(what, outputs[0].dtype)
        n, hidden = check(*inputs, *outputs)
        if n:
            views = (*inputs, *outputs)
            # each operand's row stride, in _meta's cached int64 array [0, s0, s1, ...]
            rows = _meta((), *((v.strides[0],) for v in views)) + 1  # past its ndim
            self._done(kernel(code, n, hidden, *(_ptr(v) for v in views), rows), what)

    # --- random numbers --------------------------------------------------------------------
    # The stream is plugrad/random_stream.py's, to the bit (csrc/random.c).
    def _random(self, kind, out, a, b, seed, what):
        n = _VALID.random(("uniform", "normal", "bernoulli")[kind], out, seed)
        if not n:
            return
        meta = _meta(out.shape, out.strides)
        code = lib.pg_random(kind, _CODE[out.dtype], _ptr(out), meta, float(a), float(b), int(seed))
        self._done(code, what)

    def random_uniform(self, out, low, high, seed):
        self._random(0, out, low, high, seed, "random_uniform")

    def random_normal(self, out, mean, std, seed):
        self._random(1, out, mean, std, seed, "random_normal")

    def random_bernoulli(self, out, p, seed):
        self._random(2, out, p, 0.0, seed, "random_bernoulli")

    # --- accounting ------------------------------------------------------------------------
    def allocated_bytes(self):
        return int(lib.pg_allocated_bytes())

    def empty_cache(self) -> None:
        """Return the freed blocks kept for reuse (64 KiB and up) to the system."""
        lib.pg_empty_cache()

    def cached_bytes(self) -> int:
        """Capacity of the freed blocks kept for reuse (not in allocated_bytes)."""
        return int(lib.pg_cached_bytes())

    def synchronize(self):
        return None
