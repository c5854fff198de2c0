"""The c_cpu backend object: argument checks in Python, kernels in C (see csrc/).

Every kernel validates its operands before the C call (buffer type, dtype, shapes, and that
each view's smallest and largest element offset lie inside its buffer), so no argument can make
the C code read or write outside its buffers.
"""

from __future__ import annotations

import math
import operator
import os

import numpy as np

from ._native import ffi, lib

_DTYPES = ("float32", "float64", "int64", "bool")
_CODE = {name: i for i, name in enumerate(_DTYPES)}
_NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}
_ITEMSIZE = {"float32": 4, "float64": 8, "int64": 8, "bool": 1}
_NP_TO_NAME = {np.dtype(v): k for k, v in _NP.items()}

_UNARY = {
    name: i
    for i, name in enumerate(
        ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sign", "sin", "cos",
         "erf", "floor", "ceil", "logical_not")
    )
}  # fmt: skip
_BINARY = {
    name: i
    for i, name in enumerate(
        ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "logical_and", "logical_or",
         "eq", "ne", "lt", "le", "gt", "ge")
    )
}  # fmt: skip
_COMPARISONS = frozenset(("eq", "ne", "lt", "le", "gt", "ge"))
_REDUCE = {"sum": 0, "max": 1, "min": 2, "prod": 3}
_ARG_REDUCE = {"argmax": 0, "argmin": 1}
_MAXD = 32
_PLANS: dict = {}
_EMPTY_OUT = object()
_EMPTY_EXTENT = object()
_MAX_ELEMS = 1 << 56  # so that the byte count always fits in int64
_FLOATS = ("float32", "float64")
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


# Caches keyed by layouts (tuples of ints): the element count and the lowest / highest element
# offset (relative to the view's offset) of a (shape, strides) pair, and the int64 metadata
# arrays the C entry points read. Layouts repeat from call to call, so after the first call a
# check is a dict lookup and two comparisons. Each cache is emptied when it grows past
# _CACHE_MAX entries.
_CACHE_MAX = 4096
_EXTENTS: dict = {}
_METAS: dict = {}


def _extent(shape, strides, what: str) -> tuple[int, int, int]:
    """(element count, lowest, highest relative element offset) of a layout; validates it."""
    try:
        return _EXTENTS[shape, strides]
    except (KeyError, TypeError):
        pass
    if len(shape) != len(strides):
        raise ValueError(f"c_cpu {what}: shape {shape} and strides {strides} differ in length")
    if len(shape) > _MAXD:
        raise ValueError(f"c_cpu {what}: {len(shape)} dimensions, at most {_MAXD} supported")
    lo = hi = 0
    n = 1
    for s, st in zip(shape, strides):
        s, st = operator.index(s), operator.index(st)
        if s < 0:
            raise ValueError(f"c_cpu {what}: negative extent in shape {shape}")
        n *= s
        if st > 0:
            hi += (s - 1) * st
        else:
            lo += (s - 1) * st
    result = (n, lo, hi)
    try:
        if len(_EXTENTS) >= _CACHE_MAX:
            _EXTENTS.clear()
        _EXTENTS[shape, strides] = result
    except TypeError:  # unhashable (lists): not cached
        pass
    return result


def _check(x, what: str, dtype: str | None = None) -> int:
    """Validate one Strided operand; returns its element count."""
    buf = x.buffer
    if type(buf) is not CBuffer:
        raise TypeError(f"c_cpu {what}: expected a c_cpu buffer, got {type(buf).__name__}")
    dt = x.dtype
    if dt != buf.dtype:
        raise TypeError(f"c_cpu {what}: view dtype {dt} does not match buffer {buf.dtype}")
    if dtype is not None and dt != dtype:
        raise TypeError(f"c_cpu {what}: expected dtype {dtype}, got {dt}")
    try:
        n, lo, hi = _EXTENTS[x.shape, x.strides]
    except (KeyError, TypeError):
        n, lo, hi = _extent(x.shape, x.strides, what)
    if n:
        off = x.offset
        if off + lo < 0 or off + hi >= buf.size:
            raise IndexError(
                f"c_cpu {what}: view shape {x.shape} strides {x.strides} offset {off} reaches "
                f"elements [{off + lo}, {off + hi}] outside its buffer of {buf.size} {buf.dtype}"
            )
    return n


def _ptr(x):
    off = x.offset
    if off:
        return x.buffer.ptr + off * _ITEMSIZE[x.dtype]
    return x.buffer.ptr


def _same_shape(what: str, *views) -> None:
    shape = views[0].shape
    for v in views[1:]:
        if tuple(v.shape) != tuple(shape):
            raise ValueError(
                f"c_cpu {what}: shapes differ: {', '.join(str(tuple(v.shape)) for v in views)}"
            )


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
    strides = x.strides
    compact = _compact_strides(x.shape)
    if strides == compact:
        return True
    return all(s == 1 or st == c for s, st, c in zip(x.shape, strides, compact))


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


def _ints(values, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"c_cpu {what}: expected integers, got {values!r}") from error


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
        if type(size) is not int or dtype not in _CODE or not 0 <= size <= _MAX_ELEMS:
            if dtype not in _CODE:
                raise TypeError(
                    f"c_cpu cannot store dtype {dtype!r}; supported: {', '.join(_DTYPES)}"
                )
            try:
                size = operator.index(size)
            except TypeError:
                raise TypeError(f"c_cpu allocate: size must be an integer, got {size!r}") from None
            if size < 0:
                raise ValueError(f"c_cpu allocate: negative size {size}")
            if size > _MAX_ELEMS:
                raise MemoryError(f"c_cpu cannot allocate {size} elements of {dtype}")
        nbytes = size * _ITEMSIZE[dtype]
        try:
            memory = _new_memory("char[]", nbytes)
        except MemoryError:
            raise MemoryError(
                f"c_cpu could not allocate {nbytes} bytes ({size} x {dtype})"
            ) from None
        return CBuffer(memory, size, dtype)

    def from_numpy(self, array, copy=True):
        array = np.asarray(array)
        name = _NP_TO_NAME.get(array.dtype)
        if name is None:
            raise TypeError(
                f"c_cpu cannot store NumPy dtype {array.dtype}; supported: {', '.join(_DTYPES)}"
            )
        if array.ndim != 1:
            array = array.reshape(-1)
        shareable = array.flags.c_contiguous and array.flags.writeable and array.flags.aligned
        if copy or not shareable:
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
        if not _check(out, "fill"):
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
        if out.shape != x.shape:
            _same_shape(what, x, out)
        n = _check(x, what)
        _check(out, what, x.dtype)
        if n:
            meta = _meta(out.shape, out.strides, x.strides)
            code = lib.pg_copy(_ITEMSIZE[x.dtype], _ptr(out), _ptr(x), meta)
            if code:
                _raise(code, what)

    @staticmethod
    def _float_dtype(what: str, dtype: str) -> int:
        """The C code of a floating dtype; TypeError for the others (matmul, conv, fused)."""
        if dtype not in _FLOATS:
            raise TypeError(f"c_cpu {what} supports float32 and float64, not {dtype}")
        return _CODE[dtype]

    @staticmethod
    def _done(code: int, what: str) -> None:
        if code:
            _raise(code, what)

    # --- elementwise -----------------------------------------------------------------------
    def unary(self, op, x, out):
        code = _UNARY.get(op)
        if code is None:
            raise ValueError(f"c_cpu: unknown unary op {op!r}")
        if out.shape != x.shape:
            _same_shape(f"unary {op}", x, out)
        n = _check(x, op)
        _check(out, op, x.dtype)
        if n:
            meta = _meta(out.shape, out.strides, x.strides)
            err = lib.pg_unary(code, _CODE[x.dtype], _ptr(out), _ptr(x), meta)
            if err:
                _raise(err, op)

    def _binary_checked(self, op, a, a_ptr, a_strides, b_ptr, b_strides, out):
        code = _BINARY.get(op)
        if code is None:
            raise ValueError(f"c_cpu: unknown binary op {op!r}")
        _check(out, op, "bool" if op in _COMPARISONS else a.dtype)
        meta = _meta(out.shape, out.strides, a_strides, b_strides)
        err = lib.pg_binary(code, _CODE[a.dtype], _ptr(out), a_ptr, b_ptr, meta)
        if err:
            _raise(err, op)

    def binary(self, op, a, b, out):
        shape = a.shape
        if b.shape != shape or out.shape != shape:
            _same_shape(op, a, b, out)
        n = _check(a, op)
        _check(b, op, a.dtype)
        if op not in _BINARY:
            raise ValueError(f"c_cpu: unknown binary op {op!r}")
        if n:
            self._binary_checked(op, a, _ptr(a), a.strides, _ptr(b), b.strides, out)
        else:
            _check(out, f"{op} out", "bool" if op in _COMPARISONS else a.dtype)

    def scalar(self, op, a, value, out, reflected):
        if out.shape != a.shape:
            _same_shape(op, a, out)
        n = _check(a, op)
        if op not in _BINARY:
            raise ValueError(f"c_cpu: unknown binary op {op!r}")
        sp, keep = _scalar_ptr(value, a.dtype)
        if not n:
            _check(out, f"{op} out", "bool" if op in _COMPARISONS else a.dtype)
            return
        zeros = (0,) * len(a.shape)
        if reflected:
            self._binary_checked(op, a, sp, zeros, _ptr(a), a.strides, out)
        else:
            self._binary_checked(op, a, _ptr(a), a.strides, sp, zeros, out)
        del keep

    def where(self, cond, a, b, out):
        _same_shape("where", cond, a, b, out)
        n = _check(cond, "where cond", "bool")
        _check(a, "where", out.dtype)
        _check(b, "where", out.dtype)
        _check(out, "where out")
        if n:
            meta = _meta(out.shape, out.strides, cond.strides, a.strides, b.strides)
            code = lib.pg_where(_CODE[out.dtype], _ptr(out), _ptr(cond), _ptr(a), _ptr(b), meta)
            self._done(code, "where")

    def cast(self, x, out):
        _same_shape("cast", x, out)
        n = _check(x, "cast")
        _check(out, "cast out")
        if n:
            meta = _meta(out.shape, out.strides, x.strides)
            code = lib.pg_cast(_CODE[x.dtype], _CODE[out.dtype], _ptr(out), _ptr(x), meta)
            self._done(code, "cast")

    # --- reductions ------------------------------------------------------------------------
    def _reduced_out_strides(self, what, x, axes, out) -> list[int]:
        """out's strides laid over x's dims (0 on the reduced axes); accepts out with the
        reduced axes dropped or kept as 1."""
        kept = [d for d in range(len(x.shape)) if d not in axes]
        if tuple(out.shape) == tuple(x.shape[d] for d in kept):
            it = iter(out.strides)
            return [0 if d in axes else next(it) for d in range(len(x.shape))]
        keep_shape = tuple(1 if d in axes else x.shape[d] for d in range(len(x.shape)))
        if tuple(out.shape) == keep_shape:
            return [0 if d in axes else out.strides[d] for d in range(len(x.shape))]
        raise ValueError(
            f"c_cpu {what}: out shape {tuple(out.shape)} does not match x shape "
            f"{tuple(x.shape)} reduced over axes {tuple(axes)}"
        )

    def reduce(self, op, x, axes, out):
        code = _REDUCE.get(op)
        if code is None:
            raise ValueError(f"c_cpu: unknown reduction {op!r}")
        _check(x, op)
        _check(out, op, x.dtype)
        try:
            key = (x.shape, x.strides, tuple(axes), out.shape, out.strides)
            plan = _PLANS.get(key)
        except TypeError:
            key = plan = None
        if plan is None:
            plan = self._reduce_plan(op, x, axes, out)
            if key is not None:
                if len(_PLANS) >= _CACHE_MAX:
                    _PLANS.clear()
                _PLANS[key] = plan
        if plan is _EMPTY_OUT:
            return
        if plan is _EMPTY_EXTENT:
            if op in ("max", "min"):
                raise ValueError(f"c_cpu reduce {op}: empty extent in shape {x.shape}")
            self.fill(out, 0 if op == "sum" else 1)
            return
        err = lib.pg_reduce(code, _CODE[x.dtype], _ptr(out), _ptr(x), plan)
        if err:
            _raise(err, op)

    def _reduce_plan(self, op, x, axes, out):
        """The metadata of a reduction's layout, or a marker for an empty output or extent."""
        nd = len(x.shape)
        axes = tuple(sorted({int(a) % nd if nd else int(a) for a in axes}))
        if any(a < 0 or a >= nd for a in axes):
            raise ValueError(f"c_cpu reduce {op}: axes {axes} out of range for shape {x.shape}")
        ostrides = self._reduced_out_strides(f"reduce {op}", x, axes, out)
        if math.prod(out.shape) == 0:
            return _EMPTY_OUT
        if math.prod(x.shape[a] for a in axes) == 0:
            return _EMPTY_EXTENT
        if any(s > 1 and st == 0 for s, st in zip(out.shape, out.strides)):
            raise ValueError(f"c_cpu reduce {op}: out may not broadcast (strides {out.strides})")
        flags = [1 if d in axes else 0 for d in range(nd)]
        values = [nd, *x.shape, *x.strides, *ostrides, *flags]
        return ffi.new("int64_t[]", values)

    def arg_reduce(self, op, x, axis, out):
        code = _ARG_REDUCE.get(op)
        if code is None:
            raise ValueError(f"c_cpu: unknown arg reduction {op!r}")
        _check(x, op)
        _check(out, f"{op} out", "int64")
        nd = len(x.shape)
        axis = int(axis)
        if nd == 0 or not -nd <= axis < nd:
            raise ValueError(f"c_cpu {op}: axis {axis} out of range for shape {tuple(x.shape)}")
        axis %= nd
        ostrides = self._reduced_out_strides(op, x, (axis,), out)
        kept = [d for d in range(nd) if d != axis]
        shape = [x.shape[d] for d in kept]
        if math.prod(shape) == 0:
            return
        n = x.shape[axis]
        if n == 0:
            raise ValueError(f"c_cpu {op}: empty axis {axis} in shape {tuple(x.shape)}")
        meta = _meta(shape, [x.strides[d] for d in kept], [ostrides[d] for d in kept])
        code = lib.pg_arg_reduce(code, _CODE[x.dtype], _ptr(out), _ptr(x), meta, n, x.strides[axis])
        self._done(code, op)

    # --- linear algebra and convolution ----------------------------------------------------
    def _scratch(self, like) -> _View:
        return _View(self.allocate(math.prod(like.shape), like.dtype), like.shape)

    def _compacted(self, x):
        if _has_compact_strides(x):
            return x
        tmp = self._scratch(x)
        self.compact(x, tmp)
        return tmp

    def matmul(self, a, b, out):
        dt = a.dtype
        if dt not in _FLOATS:
            self._matmul_shapes(a, b, out)
            self._float_dtype("matmul", dt)
        _check(a, "matmul a")
        _check(b, "matmul b", dt)
        _check(out, "matmul out", dt)
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

    @staticmethod
    def _matmul_shapes(a, b, out) -> None:
        for v, name in ((a, "a"), (b, "b"), (out, "out")):
            if len(v.shape) != 3:
                raise ValueError(f"c_cpu matmul: {name} must be 3-D (B, M, K), got {v.shape}")

    def _matmul_plan(self, a, b, out):
        self._matmul_shapes(a, b, out)
        (ba, m, k), (bb, k2, n) = a.shape, b.shape
        batch = max(ba, bb)
        if k2 != k or ba not in (1, batch) or bb not in (1, batch) or out.shape != (batch, m, n):
            raise ValueError(
                f"c_cpu matmul: shapes {a.shape} @ {b.shape} -> {out.shape} do not match"
            )
        if batch * m * n == 0:
            return _EMPTY_OUT
        sab = a.strides[0] if ba > 1 else 0
        sbb = b.strides[0] if bb > 1 else 0
        return (
            batch, m, n, k, sab, a.strides[1], a.strides[2], sbb, b.strides[1], b.strides[2],
            _has_compact_strides(out),
        )  # fmt: skip

    def _conv_geometry(self, what, x_shape, w_shape, o_shape, dtype, stride, padding, dilation,
                       groups) -> object:  # fmt: skip
        self._float_dtype(what, dtype)
        stride, padding, dilation = (
            _ints(stride, what), _ints(padding, what), _ints(dilation, what)
        )  # fmt: skip
        groups = int(groups)
        if len(x_shape) != 4 or len(w_shape) != 4 or len(o_shape) != 4:
            raise ValueError(
                f"c_cpu {what}: expected 4-D x, w, out; got {x_shape}, {w_shape}, {o_shape}"
            )
        n, c, h, wd = x_shape
        o, cg, kh, kw = w_shape
        n2, o2, oh, ow = o_shape
        if (
            len(stride) != 2 or len(padding) != 2 or len(dilation) != 2 or groups < 1
            or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0
        ):  # fmt: skip
            raise ValueError(
                f"c_cpu {what}: bad stride {stride}, padding {padding}, dilation {dilation} "
                f"or groups {groups}"
            )
        eh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ew = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        if (
            c % groups or o % groups or cg * groups != c or n2 != n or o2 != o
            or (oh, ow) != (max(eh, 0), max(ew, 0))
        ):  # fmt: skip
            raise ValueError(
                f"c_cpu {what}: x {x_shape}, w {w_shape}, out {o_shape} do not fit stride "
                f"{stride}, padding {padding}, dilation {dilation}, groups {groups}"
            )
        values = [n, c, h, wd, o, kh, kw, oh, ow, *stride, *padding, *dilation, groups]
        return ffi.new("int64_t[]", values)

    def _conv(self, what, kernel, inputs, out, shapes, args):
        """Check two inputs and an output (names and views), run one conv kernel on compact
        copies of the inputs, writing through scratch when `out` is not compact.
        `shapes` is (x, w, grad_out) of the convolution, `args` its geometry."""
        (first_name, first), (second_name, second) = inputs
        _check(first, f"{what} {first_name}")
        _check(second, f"{what} {second_name}", first.dtype)
        _check(out, f"{what} out", first.dtype)
        geom = self._conv_geometry(what, *shapes, first.dtype, *args)
        if math.prod(out.shape) == 0:
            return
        first, second = self._compacted(first), self._compacted(second)
        target = out if _has_compact_strides(out) else self._scratch(out)
        code = kernel(_CODE[first.dtype], _ptr(first), _ptr(second), _ptr(target), geom)
        self._done(code, f"{what} {first_name} {first.shape} {second_name} {second.shape}")
        if target is not out:
            self.assign(target, out)

    def conv2d(self, x, w, out, stride, padding, dilation, groups):
        self._conv("conv2d", lib.pg_conv2d, (("x", x), ("w", w)), out,
                   (x.shape, w.shape, out.shape), (stride, padding, dilation, groups))  # fmt: skip

    def conv2d_backward_input(self, grad_out, w, grad_x, stride, padding, dilation, groups):
        self._conv("conv2d_backward_input", lib.pg_conv2d_backward_input,
                   (("grad_out", grad_out), ("w", w)), grad_x,
                   (grad_x.shape, w.shape, grad_out.shape),
                   (stride, padding, dilation, groups))  # fmt: skip

    def conv2d_backward_weight(self, x, grad_out, grad_w, stride, padding, dilation, groups):
        self._conv("conv2d_backward_weight", lib.pg_conv2d_backward_weight,
                   (("x", x), ("grad_out", grad_out)), grad_w,
                   (x.shape, grad_w.shape, grad_out.shape),
                   (stride, padding, dilation, groups))  # fmt: skip

    # --- indexing --------------------------------------------------------------------------
    @staticmethod
    def _index_axis(what, index, other, axis, other_name) -> int:
        nd = len(index.shape)
        if len(other.shape) != nd:
            raise ValueError(
                f"c_cpu {what}: index {index.shape} and {other_name} {other.shape} differ in "
                "number of dimensions"
            )
        axis = int(axis)
        if nd == 0 or not -nd <= axis < nd:
            raise ValueError(f"c_cpu {what}: axis {axis} out of range for shape {index.shape}")
        return axis % nd

    def gather(self, x, axis, index, out):
        _check(x, "gather x")
        n = _check(index, "gather index", "int64")
        _check(out, "gather out", x.dtype)
        _same_shape("gather (index, out)", index, out)
        axis = self._index_axis("gather", index, x, axis, "x")
        for d, (i, s) in enumerate(zip(index.shape, x.shape)):
            if d != axis and i > s:
                raise ValueError(
                    f"c_cpu gather: index {index.shape} exceeds x {x.shape} on dim {d}"
                )
        if not n:
            return
        if x.shape[axis] == 0:
            raise IndexError(f"c_cpu gather: axis {axis} of x {x.shape} is empty")
        xs = [0 if d == axis else s for d, s in enumerate(x.strides)]
        meta = _meta(index.shape, out.strides, index.strides, xs)
        code = lib.pg_gather(
            _CODE[x.dtype], _ptr(out), _ptr(x), _ptr(index), meta, x.shape[axis],
            x.strides[axis],
        )  # fmt: skip
        self._done(code, f"gather x {x.shape} axis {axis}")

    def scatter_add(self, out, axis, index, src):
        _check(out, "scatter_add out")
        n = _check(index, "scatter_add index", "int64")
        _check(src, "scatter_add src", out.dtype)
        axis = self._index_axis("scatter_add", index, out, axis, "out")
        self._index_axis("scatter_add", index, src, axis, "src")
        for d, i in enumerate(index.shape):
            if i > src.shape[d] or (d != axis and i > out.shape[d]):
                raise ValueError(
                    f"c_cpu scatter_add: index {index.shape} exceeds src {src.shape} or out "
                    f"{out.shape} on dim {d}"
                )
        if not n:
            return
        if out.shape[axis] == 0:
            raise IndexError(f"c_cpu scatter_add: axis {axis} of out {out.shape} is empty")
        os_ = [0 if d == axis else s for d, s in enumerate(out.strides)]
        meta = _meta(index.shape, os_, index.strides, src.strides)
        code = lib.pg_scatter_add(
            _CODE[out.dtype], _ptr(out), _ptr(index), _ptr(src), meta, out.shape[axis],
            out.strides[axis], axis,
        )  # fmt: skip
        self._done(code, f"scatter_add out {out.shape} axis {axis}")

    # --- optional fused kernels (protocol.FusedKernels) -------------------------------------
    def relu_backward(self, grad, y, out):
        if grad.shape != out.shape or y.shape != out.shape:
            _same_shape("relu_backward (grad, y, out)", grad, y, out)
        code = self._float_dtype("relu_backward", out.dtype)
        n = _check(out, "relu_backward out")
        _check(grad, "relu_backward grad", out.dtype)
        _check(y, "relu_backward y", out.dtype)
        if n:
            meta = _meta(out.shape, out.strides, grad.strides, y.strides)
            err = lib.pg_relu_backward(code, _ptr(out), _ptr(grad), _ptr(y), meta)
            self._done(err, "relu_backward")

    def axpy(self, alpha, x, out):
        if x.shape != out.shape:
            _same_shape("axpy (x, out)", x, out)
        code = self._float_dtype("axpy", out.dtype)
        n = _check(out, "axpy out")
        _check(x, "axpy x", out.dtype)
        if n:
            meta = _meta(out.shape, out.strides, x.strides)
            self._done(lib.pg_axpy(code, _ptr(out), _ptr(x), float(alpha), meta), "axpy")

    @staticmethod
    def _cross_entropy_operands(what, rows, target, compact, zero_d) -> tuple[int, int]:
        """Check the shapes of the cross-entropy kernels' operands; returns (N, C)."""
        shape = rows.shape
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise ValueError(f"c_cpu {what}: expected (N, C) with N, C >= 1, got {shape}")
        if target.shape != shape[:1] or zero_d.shape != ():
            raise ValueError(
                f"c_cpu {what}: target {target.shape} must be ({shape[0]},) and the loss (or "
                f"its gradient) 0-d, got {zero_d.shape}"
            )
        if compact.shape != shape or not _has_compact_strides(compact):
            raise ValueError(
                f"c_cpu {what}: the (N, C) output/log_probs must be compact of shape {shape}, "
                f"got shape {compact.shape} strides {compact.strides}"
            )
        _check(target, f"{what} target", "int64")
        return shape

    def cross_entropy(self, logits, target, scale, log_probs, loss):
        dt = logits.dtype
        code = self._float_dtype("cross_entropy", dt)
        n, c = self._cross_entropy_operands("cross_entropy", logits, target, log_probs, loss)
        _check(logits, "cross_entropy logits")
        _check(log_probs, "cross_entropy log_probs", dt)
        _check(loss, "cross_entropy loss", dt)
        s0, s1 = logits.strides
        err = lib.pg_cross_entropy(
            code, _ptr(logits), n, c, s0, s1, _ptr(target), target.strides[0], float(scale),
            _ptr(log_probs), _ptr(loss),
        )  # fmt: skip
        if err == -3:
            raise IndexError(f"c_cpu cross_entropy: a target lies outside [0, {c})")
        self._done(err, "cross_entropy")

    def cross_entropy_backward(self, log_probs, target, grad, scale, out):
        dt = log_probs.dtype
        code = self._float_dtype("cross_entropy_backward", dt)
        what = "cross_entropy_backward"
        n, c = self._cross_entropy_operands(what, out, target, out, grad)
        if log_probs.shape != out.shape or not _has_compact_strides(log_probs):
            raise ValueError(
                f"c_cpu {what}: log_probs must be compact of shape {out.shape}, got shape "
                f"{log_probs.shape} strides {log_probs.strides}"
            )
        _check(log_probs, f"{what} log_probs")
        _check(grad, f"{what} grad", dt)
        _check(out, f"{what} out", dt)
        err = lib.pg_cross_entropy_backward(
            code, _ptr(log_probs), n, c, _ptr(target), target.strides[0], _ptr(grad),
            float(scale), _ptr(out),
        )  # fmt: skip
        if err == -3:
            raise IndexError(f"c_cpu {what}: a target lies outside [0, {c})")
        self._done(err, what)

    # --- random numbers --------------------------------------------------------------------
    # The stream is plugrad/random_stream.py's, to the bit (csrc/random.c).
    def _random(self, kind, out, a, b, seed, what):
        n = _check(out, what)
        if kind != 2 and out.dtype not in ("float32", "float64"):
            raise TypeError(f"c_cpu {what} writes float32 or float64, not {out.dtype}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"c_cpu {what}: the seed is an integer, got {type(seed).__name__}")
        if not 0 <= int(seed) < 1 << 64:
            raise ValueError(f"c_cpu {what}: the seed lies in [0, 2**64), got {seed}")
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
