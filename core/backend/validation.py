"""The checks a backend runs on its arguments before it touches memory, shared by every backend.

A kernel receives `Strided` views over the backend's own buffers. `Validator` checks, before
anything is read or written, that each view's buffer is one of this backend's, that its dtype is
the buffer's, that its shape and strides are integers of one length whose element count fits
int64, and that every element it reaches lies inside the buffer; then, kernel by kernel, the
shapes, dtypes, axes and scalars that `plugrad.backend.protocol` requires. A failed check raises
TypeError, ValueError or IndexError naming the backend, the kernel and the operand, so no
argument can make a kernel crash, loop on a wrapped count or write outside a buffer.

Every in-repo backend calls it first thing in each kernel; a third-party backend can too:

    from plugrad.backend.validation import Validator

    class MyBackend:
        name, dtypes, is_host = "mydev", ("float32", "int64", "bool"), False

        def __init__(self):
            # buffers of type MyBuffer with .size (elements) and .dtype (a dtype name)
            self.check = Validator(self.name, MyBuffer, self.dtypes)

        def unary(self, op, x, out):
            n = self.check.unary(op, x, out)  # raises before any work; n: element count
            ...

The checks cost little on a hot path: a layout's extent is computed once and cached (layouts
repeat from call to call), as are the shape rules of reductions, matmul and convolution, so a
checked view costs a dict lookup and a few comparisons.
"""

from __future__ import annotations

import functools
import numbers
import operator
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from .. import dtypes as _dt
from .protocol import (
    ARG_REDUCE_OPS,
    BINARY_OPS,
    BITWISE_DTYPES,
    BITWISE_OPS,
    COMPARISON_OPS,
    REDUCE_OPS,
    SCAN_INDEXED_OPS,
    SCAN_OPS,
    SHIFT_OPS,
    UNARY_OPS,
    Strided,
)

INT64_MAX = 2**63 - 1
ITEMSIZE = {name: d.itemsize for name, d in _dt.ALL.items()}
FLOATING = frozenset(name for name, d in _dt.ALL.items() if d.is_floating)
_NUMPY = {name: d.numpy for name, d in _dt.ALL.items()}
_UNARY = frozenset(UNARY_OPS)
_BINARY = frozenset(BINARY_OPS) | frozenset(COMPARISON_OPS)
_COMPARISON = frozenset(COMPARISON_OPS)
_BITWISE = frozenset(BITWISE_OPS) | frozenset(SHIFT_OPS)
_SHIFT = frozenset(SHIFT_OPS)


def _check_bitwise(backend: str, op: str, dtype: str) -> None:
    """Bitwise ops take integers and bool, shifts integers only (TypeError otherwise)."""
    allowed = tuple(d for d in BITWISE_DTYPES if d != "bool") if op in _SHIFT else BITWISE_DTYPES
    if dtype not in allowed:
        raise TypeError(f"{backend}: {op} takes {' or '.join(allowed)} operands, got {dtype}")


_CACHE_MAX = 4096


def layout(shape: tuple[int, ...], strides: tuple[int, ...], what: str = "view") -> tuple:
    """(element count, lowest, highest element offset relative to the view's offset) of a
    (shape, strides) pair; ValueError when they are not integers of one length, a size is
    negative or the count does not fit int64 (TypeError for non-integers)."""
    try:
        sides = [operator.index(s) for s in shape]
        steps = [operator.index(s) for s in strides]
    except TypeError:
        raise TypeError(
            f"{what}: shape {shape!r} and strides {strides!r} must be integers"
        ) from None
    if len(sides) != len(steps):
        raise ValueError(
            f"{what}: shape {tuple(sides)} and strides {tuple(steps)} differ in length"
        )
    count, low, high = 1, 0, 0
    for side, step in zip(sides, steps):
        if side < 0:
            raise ValueError(f"{what}: negative size in shape {tuple(sides)}")
        count *= side
        if step > 0:
            high += (side - 1) * step
        else:
            low += (side - 1) * step
    if count > INT64_MAX:
        raise ValueError(
            f"{what}: shape {tuple(sides)} has {count} elements, more than int64 holds "
            "(integer multiplication overflow)"
        )
    return (count, low, high) if count else (0, 0, 0)


def has_compact_strides(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Row-major strides (any stride on a size-1 dimension); the offset may be anything."""
    step = 1
    for side, stride in zip(reversed(shape), reversed(strides)):
        if side != 1 and stride != step:
            return False
        step *= max(side, 1)
    return True


def check_scalar(value: object, dtype: str, what: str) -> None:
    """A Python or NumPy real number that `dtype` holds: any real for floating dtypes, an
    integral value in range for integer dtypes, anything real for bool."""
    if type(value) is float and dtype in FLOATING:
        return
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: the scalar must be a real number, got {type(value).__name__}")
    info = _dt.integer_range(dtype)
    if info is None:
        return
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{what}: {value!r} is not an integer, and the operand is {dtype}")
    if not info[0] <= value <= info[1]:
        raise ValueError(f"{what}: {value!r} does not fit {dtype} [{info[0]}, {info[1]}]")


def check_index_values(index: np.ndarray, bound: int, what: str) -> None:
    """IndexError unless every value of the int64 host array `index` lies in [0, bound)."""
    if index.size and (index.min() < 0 or index.max() >= bound):
        raise IndexError(f"{what}: an index lies outside [0, {bound})")


RANDOM_KINDS = ("uniform", "normal", "bernoulli")


def check_random(backend: str, kind: str, dtype: str, seed: object) -> None:
    """The random kernels' own rules (plugrad/random_stream.py): uniform and normal write
    floating dtypes; the seed is an integer in [0, 2**64)."""
    what = f"{backend} random_{kind}"
    if kind not in RANDOM_KINDS:
        raise ValueError(f"{what}: unknown kind; one of {', '.join(RANDOM_KINDS)}")
    if kind != "bernoulli" and dtype not in FLOATING:
        raise TypeError(f"{what} writes a floating dtype, not {dtype}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{what}: the seed is an integer, got {type(seed).__name__}")
    if not 0 <= int(seed) < 1 << 64:
        raise ValueError(f"{what}: the seed lies in [0, 2**64), got {seed}")


class Validator:
    """The argument checks of one backend. `buffer_type` is its buffer class; buffers have
    `.size` (elements) and `.dtype` (a dtype name, or anything `buffer_dtype(buffer)` maps to
    one); `dtypes` are the dtype names it stores; `max_dims` bounds a view's dimensions.

    Each kernel method checks that kernel's operands and returns what the backend needs next
    (an element count, normalised axes, sizes); none of them reads or writes a buffer.

    Layout checks are cached by (shape, strides): a shape of integral floats equal to a
    checked integer shape (2.0 == 2) passes as that shape.
    """

    def __init__(self, backend: str, buffer_type: type, dtypes: Iterable[str], *,
                 buffer_dtype: Callable[[object], str] | None = None,
                 max_dims: int | None = None) -> None:  # fmt: skip
        self.backend = backend
        self.buffer_type = buffer_type
        self.dtypes = tuple(dtypes)
        unknown = [d for d in self.dtypes if d not in _NUMPY]
        if unknown:
            raise ValueError(f"{backend}: unknown dtypes {unknown}; plugrad has {list(_NUMPY)}")
        self._buffer_dtype = buffer_dtype
        self.max_dims = max_dims
        self._layouts: dict = {}  # (shape, strides) -> layout(); layouts repeat across calls
        self._from_numpy = {np.dtype(_NUMPY[d]): d for d in self.dtypes}

    # --- buffers -------------------------------------------------------------------------
    def allocation(self, size: object, dtype: str) -> int:
        """The element count of a new buffer: a non-negative integer whose byte count fits
        int64 (MemoryError past that), of a dtype this backend stores."""
        if dtype not in self.dtypes:
            raise TypeError(
                f"{self.backend} cannot store dtype {dtype!r}; supported: {', '.join(self.dtypes)}"
            )
        if type(size) is not int:
            try:
                size = operator.index(size)
            except TypeError:
                raise TypeError(
                    f"{self.backend} allocate: size must be an integer, got {size!r}"
                ) from None
        if size < 0:
            raise ValueError(f"{self.backend} allocate: negative size {size}")
        if size * ITEMSIZE[dtype] > INT64_MAX:
            raise MemoryError(f"{self.backend} cannot allocate {size} elements of {dtype}")
        return size

    def host_array(self, array: object, copy: bool) -> tuple[np.ndarray, bool]:
        """(a 1-D array of a stored dtype with canonical bools, whether it may be shared):
        `from_numpy`'s input checks. Sharing needs copy=False and a C-contiguous, aligned,
        writeable array; a bool array holding bytes other than 0 and 1 is copied normalised
        (with a warning when sharing was asked for)."""
        array = np.asarray(array)
        name = self._from_numpy.get(array.dtype)
        if name is None:
            raise TypeError(
                f"{self.backend} cannot store NumPy dtype {array.dtype}; supported: "
                f"{', '.join(self.dtypes)}"
            )
        flags = array.flags  # (before reshape, which copies a non-contiguous array)
        share = not copy and flags.c_contiguous and flags.writeable and flags.aligned
        if array.ndim != 1:
            array = array.reshape(-1)
        if name == "bool":
            canonical = _dt.canonical_bools(array)
            if canonical is not array:
                if share:
                    warnings.warn(
                        f"{self.backend} from_numpy: the bool array holds bytes other than 0 "
                        "and 1; they are copied as True instead of shared",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                return canonical, False
        return array, share

    # --- views ---------------------------------------------------------------------------
    def view(self, x: Strided, what: str, dtype: str | None = None, role: str = "") -> int:
        """Check one operand (its buffer, dtype, layout and extent; `dtype` when given) of
        kernel `what` (`role` names the operand in messages); returns its element count."""
        buf = x.buffer
        if type(buf) is not self.buffer_type:
            raise TypeError(
                f"{self._name(what, role)}: expected a {self.backend} buffer, got "
                f"{type(buf).__name__}"
            )
        name = x.dtype
        stored = buf.dtype if self._buffer_dtype is None else self._buffer_dtype(buf)
        if name != stored:
            raise TypeError(
                f"{self._name(what, role)}: view dtype {name} does not match buffer {stored}"
            )
        if dtype is not None and name != dtype:
            raise TypeError(f"{self._name(what, role)}: expected dtype {dtype}, got {name}")
        shape, strides = x.shape, x.strides
        try:
            n, low, high = self._layouts[shape, strides]
        except (KeyError, TypeError):
            n, low, high = self._layout(shape, strides, self._name(what, role))
        off = x.offset
        if type(off) is not int:
            raise TypeError(f"{self._name(what, role)}: offset must be an integer, got {off!r}")
        if n and (off + low < 0 or off + high >= buf.size):
            raise IndexError(
                f"{self._name(what, role)}: view shape {tuple(shape)} strides {tuple(strides)} "
                f"offset {off} reaches elements [{off + low}, {off + high}] outside its buffer "
                f"of {buf.size} {stored}"
            )
        return n

    def _name(self, what: str, role: str) -> str:
        return f"{self.backend} {what} {role}" if role else f"{self.backend} {what}"

    def _layout(self, shape: tuple, strides: tuple, what: str) -> tuple[int, int, int]:
        result = layout(shape, strides, what)
        if self.max_dims is not None and len(shape) > self.max_dims:
            raise ValueError(f"{what}: {len(shape)} dimensions, at most {self.max_dims}")
        try:
            if len(self._layouts) >= _CACHE_MAX:
                self._layouts.clear()
            self._layouts[shape, strides] = result
        except TypeError:  # lists: checked, not cached
            pass
        return result

    def same_shape(self, what: str, *views: Strided) -> None:
        shape = tuple(views[0].shape)
        if any(tuple(v.shape) != shape for v in views[1:]):
            shapes = ", ".join(str(tuple(v.shape)) for v in views)
            raise ValueError(f"{self.backend} {what}: shapes differ: {shapes}")

    def floating(self, what: str, dtype: str) -> None:
        if dtype not in FLOATING:
            raise TypeError(f"{self.backend} {what} takes floating dtypes, not {dtype}")

    def compact(self, what: str, x: Strided) -> None:
        if not has_compact_strides(x.shape, x.strides):
            raise ValueError(
                f"{self.backend} {what} must be compact (row-major), got shape "
                f"{tuple(x.shape)} strides {tuple(x.strides)}"
            )

    # --- buffers and elementwise ---------------------------------------------------------
    def fill(self, out: Strided, value: object) -> int:
        n = self.view(out, "fill")
        if type(value) is not float or out.dtype not in FLOATING:  # (the common case first)
            check_scalar(value, out.dtype, f"{self.backend} fill")
        return n

    def copy(self, what: str, x: Strided, out: Strided) -> int:
        """compact and assign: one shape and dtype."""
        if out.shape != x.shape:
            self.same_shape(what, x, out)
        n = self.view(x, what)
        self.view(out, what, x.dtype, "out")
        return n

    def unary(self, op: str, x: Strided, out: Strided) -> int:
        if op not in _UNARY:
            raise ValueError(f"{self.backend}: unknown unary op {op!r}; see protocol.UNARY_OPS")
        if op in _BITWISE:
            _check_bitwise(self.backend, op, x.dtype)
        if out.shape != x.shape:
            self.same_shape(op, x, out)
        n = self.view(x, op)
        self.view(out, op, x.dtype, "out")
        return n

    def binary(self, op: str, a: Strided, b: Strided, out: Strided) -> int:
        if op not in _BINARY:
            raise ValueError(f"{self.backend}: unknown binary op {op!r}; see protocol.BINARY_OPS")
        if op in _BITWISE:
            _check_bitwise(self.backend, op, a.dtype)
        shape = a.shape
        if b.shape != shape or out.shape != shape:
            self.same_shape(op, a, b, out)
        n = self.view(a, op)
        self.view(b, op, a.dtype)
        self.view(out, op, "bool" if op in _COMPARISON else a.dtype, "out")
        return n

    def scalar(self, op: str, a: Strided, value: object, out: Strided) -> int:
        if op not in _BINARY:
            raise ValueError(f"{self.backend}: unknown binary op {op!r}; see protocol.BINARY_OPS")
        if op in _BITWISE:
            _check_bitwise(self.backend, op, a.dtype)
        if out.shape != a.shape:
            self.same_shape(op, a, out)
        n = self.view(a, op)
        self.view(out, op, "bool" if op in _COMPARISON else a.dtype, "out")
        if type(value) is not float or a.dtype not in FLOATING:
            check_scalar(value, a.dtype, f"{self.backend} scalar {op}")
        return n

    def where(self, cond: Strided, a: Strided, b: Strided, out: Strided) -> int:
        self.same_shape("where", cond, a, b, out)
        n = self.view(cond, "where", "bool", "cond")
        self.view(out, "where", None, "out")
        self.view(a, "where", out.dtype, "a")
        self.view(b, "where", out.dtype, "b")
        return n

    def cast(self, x: Strided, out: Strided) -> int:
        self.same_shape("cast", x, out)
        n = self.view(x, "cast")
        self.view(out, "cast", None, "out")
        return n

    # --- reductions ----------------------------------------------------------------------
    def reduce(self, op: str, x: Strided, axes: Iterable[int], out: Strided) -> tuple[int, ...]:
        """The reduced axes, sorted; out has x's shape without them (or with them as 1)."""
        self.view(x, "reduce")
        self.view(out, "reduce", x.dtype, "out")
        return self.reduce_rule(op, x, axes, out)

    def reduce_rule(self, op: str, x: Strided, axes: Iterable[int], out: Strided) -> tuple:
        """`reduce` without the checks of each view: for a backend that checks the views
        itself and caches a plan per layout (the rule is a function of the layouts)."""
        if op not in REDUCE_OPS:
            raise ValueError(f"{self.backend}: unknown reduction {op!r}; see protocol.REDUCE_OPS")
        try:
            axes = tuple(axes)
        except TypeError:
            raise TypeError(f"{self.backend} reduce {op}: axes must be integers") from None
        shape, out_shape = tuple(x.shape), tuple(out.shape)
        return _reduce_rule(self.backend, op, shape, axes, out_shape, tuple(out.strides))

    def arg_reduce(self, op: str, x: Strided, axis: int, out: Strided) -> int:
        if op not in ARG_REDUCE_OPS:
            raise ValueError(f"{self.backend}: unknown arg reduction {op!r}")
        self.view(x, op)
        self.view(out, op, "int64", "out")
        shape = tuple(x.shape)
        axis = _axis(self.backend, op, axis, len(shape), shape)
        kept = shape[:axis] + shape[axis + 1 :]
        if tuple(out.shape) not in (kept, shape[:axis] + (1,) + shape[axis + 1 :]):
            raise ValueError(
                f"{self.backend} {op}: out shape {tuple(out.shape)} does not match x shape "
                f"{shape} without axis {axis}"
            )
        if shape[axis] == 0 and 0 not in kept:
            raise ValueError(f"{self.backend} {op}: empty axis {axis} in shape {shape}")
        return axis

    # --- order and scans -----------------------------------------------------------------
    def sort(self, x: Strided, axis: int, descending: object, values_out: Strided,
             indices_out: Strided) -> tuple[int, int]:  # fmt: skip
        """(axis, element count): outputs compact, of x's shape, in buffers other than x's."""
        if not isinstance(descending, bool | np.bool_):
            raise TypeError(f"{self.backend} sort: descending must be a bool, got {descending!r}")
        n = self.view(x, "sort", None, "x")
        self.view(values_out, "sort", x.dtype, "values_out")
        self.view(indices_out, "sort", "int64", "indices_out")
        return self._along_axis("sort", axis, x, (("values_out", values_out),
                                                  ("indices_out", indices_out))), n  # fmt: skip

    def scan(self, op: str, x: Strided, axis: int, out: Strided,
             indices_out: Strided | None) -> tuple[int, int]:  # fmt: skip
        """(axis, element count) of a cumulative op; indices_out only for max and min."""
        if op not in SCAN_OPS:
            raise ValueError(f"{self.backend}: unknown scan {op!r}; see protocol.SCAN_OPS")
        what = f"scan {op}"
        n = self.view(x, what, None, "x")
        self.view(out, what, x.dtype, "out")
        if op == "logaddexp":
            self.floating(what, x.dtype)
        outputs = [("out", out)]
        if indices_out is not None:
            if op not in SCAN_INDEXED_OPS:
                raise ValueError(
                    f"{self.backend} {what}: indices_out is for {' and '.join(SCAN_INDEXED_OPS)}"
                    " only; pass None"
                )
            self.view(indices_out, what, "int64", "indices_out")
            outputs.append(("indices_out", indices_out))
        return self._along_axis(what, axis, x, outputs), n

    def _along_axis(self, what: str, axis: object, x: Strided, outputs) -> int:
        """The axis of a kernel along one axis of x, whose outputs are compact, of x's shape and
        in buffers of their own (a row's values are read while others are written)."""
        shape = tuple(x.shape)
        buffers = [x.buffer]
        for name, out in outputs:
            if tuple(out.shape) != shape:
                raise ValueError(
                    f"{self.backend} {what}: {name} shape {tuple(out.shape)} is not x's {shape}"
                )
            self.compact(f"{what} {name}", out)
            if any(out.buffer is b for b in buffers):
                raise ValueError(
                    f"{self.backend} {what}: {name} shares a buffer with another operand; "
                    "give each output a buffer of its own"
                )
            buffers.append(out.buffer)
        return _axis(self.backend, what, axis, len(shape), shape)

    # --- linear algebra and convolution --------------------------------------------------
    def matmul(self, a: Strided, b: Strided, out: Strided) -> tuple[int, int, int, int]:
        """(batch, M, N, K) of a (B, M, K) @ b (B, K, N) -> out (B, M, N), floating."""
        self.view(a, "matmul", None, "a")
        self.view(b, "matmul", a.dtype, "b")
        self.view(out, "matmul", a.dtype, "out")
        return self.matmul_rule(a, b, out)

    def matmul_rule(self, a: Strided, b: Strided, out: Strided) -> tuple[int, int, int, int]:
        """`matmul` without the checks of each view (see `reduce_rule`)."""
        self.floating("matmul", a.dtype)
        return _matmul_rule(self.backend, tuple(a.shape), tuple(b.shape), tuple(out.shape))

    def conv2d(self, x, w, out, stride, padding, dilation, groups) -> tuple[int, ...]:
        """The geometry (N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups)."""
        operands = (("x", x), ("w", w), ("out", out))
        shapes = (x.shape, w.shape, out.shape)
        return self._conv("conv2d", operands, shapes, stride, padding, dilation, groups)

    def conv2d_backward_input(self, grad_out, w, grad_x, stride, padding, dilation, groups):
        return self._conv("conv2d_backward_input",
                          (("grad_out", grad_out), ("w", w), ("grad_x", grad_x)),
                          (grad_x.shape, w.shape, grad_out.shape), stride, padding, dilation,
                          groups)  # fmt: skip

    def conv2d_backward_weight(self, x, grad_out, grad_w, stride, padding, dilation, groups):
        return self._conv("conv2d_backward_weight",
                          (("x", x), ("grad_out", grad_out), ("grad_w", grad_w)),
                          (x.shape, grad_w.shape, grad_out.shape), stride, padding, dilation,
                          groups)  # fmt: skip

    def _conv(self, what, operands, shapes, stride, padding, dilation, groups):
        dtype = operands[0][1].dtype
        self.floating(what, dtype)
        for name, v in operands:
            self.view(v, what, dtype, name)
        args = tuple(_ints(self.backend, what, name, value, 2)
                     for name, value in (("stride", stride), ("padding", padding),
                                         ("dilation", dilation)))  # fmt: skip
        (groups,) = _ints(self.backend, what, "groups", (groups,), 1)
        x_shape, w_shape, o_shape = (tuple(s) for s in shapes)
        return _conv_rule(self.backend, what, x_shape, w_shape, o_shape, *args, groups)

    # --- indexing ------------------------------------------------------------------------
    def gather(self, x: Strided, axis: int, index: Strided, out: Strided) -> tuple[int, int]:
        """(axis, element count of index) for torch.gather's operands."""
        self.view(x, "gather", None, "x")
        n = self.view(index, "gather", "int64", "index")
        self.view(out, "gather", x.dtype, "out")
        self.same_shape("gather (index, out)", index, out)
        x_shape, i_shape = tuple(x.shape), tuple(index.shape)
        axis = self._index_axis("gather", axis, i_shape, x_shape, "x")
        for d, (i, s) in enumerate(zip(i_shape, x_shape)):
            if d != axis and i > s:
                raise ValueError(
                    f"{self.backend} gather: index {i_shape} exceeds x {x_shape} on dim {d}"
                )
        if n and x_shape[axis] == 0:
            raise IndexError(f"{self.backend} gather: axis {axis} of x {x_shape} is empty")
        return axis, n

    def scatter_add(self, out: Strided, axis: int, index: Strided, src: Strided) -> tuple[int, int]:
        """(axis, element count of index) for torch's scatter_add_: index no larger than src
        anywhere, nor than out off the axis."""
        self.view(out, "scatter_add", None, "out")
        n = self.view(index, "scatter_add", "int64", "index")
        self.view(src, "scatter_add", out.dtype, "src")
        o_shape, i_shape = tuple(out.shape), tuple(index.shape)
        s_shape = tuple(src.shape)
        axis = self._index_axis("scatter_add", axis, i_shape, o_shape, "out")
        self._index_axis("scatter_add", axis, i_shape, s_shape, "src")
        for d, i in enumerate(i_shape):
            if i > s_shape[d] or (d != axis and i > o_shape[d]):
                raise ValueError(
                    f"{self.backend} scatter_add: index {i_shape} exceeds src {s_shape} or out "
                    f"{o_shape} on dim {d} (index may not be larger than src on any dim, nor "
                    "than out off the axis)"
                )
        if n and o_shape[axis] == 0:
            raise IndexError(f"{self.backend} scatter_add: axis {axis} of out {o_shape} is empty")
        return axis, n

    def _index_axis(self, what, axis, i_shape, other, other_name) -> int:
        if len(other) != len(i_shape):
            raise ValueError(
                f"{self.backend} {what}: index {i_shape} and {other_name} {other} differ in "
                "number of dimensions"
            )
        return _axis(self.backend, what, axis, len(i_shape), i_shape)

    def random(self, kind: str, out: Strided, seed: object) -> int:
        """random_uniform / random_normal / random_bernoulli: the element count of out."""
        n = self.view(out, f"random_{kind}", None, "out")
        check_random(self.backend, kind, out.dtype, seed)
        return n

    # --- optional fused kernels ----------------------------------------------------------
    def relu_backward(self, grad: Strided, y: Strided, out: Strided) -> int:
        self.floating("relu_backward", out.dtype)
        self.same_shape("relu_backward (grad, y, out)", grad, y, out)
        n = self.view(out, "relu_backward", None, "out")
        self.view(grad, "relu_backward", out.dtype, "grad")
        self.view(y, "relu_backward", out.dtype, "y")
        return n

    def axpy(self, alpha: object, x: Strided, out: Strided) -> int:
        self.floating("axpy", out.dtype)
        self.same_shape("axpy (x, out)", x, out)
        n = self.view(out, "axpy", None, "out")
        self.view(x, "axpy", out.dtype, "x")
        check_scalar(alpha, "float64", f"{self.backend} axpy alpha")
        return n

    def cross_entropy(self, logits, target, scale, log_probs, loss) -> tuple[int, int]:
        """(N, C) of the softmax cross-entropy kernel's operands."""
        what = "cross_entropy"
        shape = self._cross_entropy_shapes(what, logits, target, log_probs, loss, scale)
        self.view(logits, what, None, "logits")
        self.view(log_probs, what, logits.dtype, "log_probs")
        self.view(loss, what, logits.dtype, "loss")
        return shape

    def cross_entropy_backward(self, log_probs, target, grad, scale, out) -> tuple[int, int]:
        what = "cross_entropy_backward"
        shape = self._cross_entropy_shapes(what, out, target, out, grad, scale)
        if tuple(log_probs.shape) != shape:
            raise ValueError(
                f"{self.backend} {what}: log_probs must have shape {shape}, got {log_probs.shape}"
            )
        self.compact(f"{what} log_probs", log_probs)
        self.view(log_probs, what, out.dtype, "log_probs")
        self.view(grad, what, out.dtype, "grad")
        self.view(out, what, out.dtype, "out")
        return shape

    def softmax(self, what: str, x: Strided, out: Strided) -> tuple[int, int]:
        """softmax / log_softmax: (rows, row length) of compact x and out (ndim >= 1)."""
        return self._rows(what, (x, out), ("x", "out"))

    def softmax_backward(self, what: str, y: Strided, grad: Strided, out: Strided):
        """softmax_backward / log_softmax_backward: (rows, row length) of y, grad and out."""
        return self._rows(what, (y, grad, out), ("y", "grad", "out"))

    def _rows(self, what: str, views: tuple, names: tuple) -> tuple[int, int]:
        first = views[0]
        self.floating(what, first.dtype)
        self.same_shape(f"{what} ({', '.join(names)})", *views)
        shape = tuple(first.shape)
        if not shape:
            raise ValueError(f"{self.backend} {what}: expected at least one dimension, got ()")
        for view, name in zip(views, names):
            self.compact(f"{what} {name}", view)
            self.view(view, what, first.dtype, name)
        c = shape[-1]
        n = 1
        for d in shape[:-1]:
            n *= d
        return (n, c) if n and c else (0, 0)

    def lstm_gates(self, projected, recurrent, c_prev, gates, c, h) -> tuple[int, int]:
        """(N, H) of one LSTM step's operands."""
        views = (projected, recurrent, c_prev, gates, c, h)
        return self._gate_rows("lstm_gates", views, (4, 4, 1, 4, 1, 1),
                               ("projected", "recurrent", "c_prev", "gates", "c", "h"))  # fmt: skip

    def lstm_gates_backward(self, dh, dc, gates, c, c_prev, d_pre, dc_prev) -> tuple[int, int]:
        views = (dh, dc, gates, c, c_prev, d_pre, dc_prev)
        names = ("dh", "dc", "gates", "c", "c_prev", "d_pre", "dc_prev")
        return self._gate_rows("lstm_gates_backward", views, (1, 1, 4, 1, 1, 4, 1), names)

    def _gate_rows(self, what: str, views: tuple, widths: tuple, names: tuple):
        """(N, H) of 2-D operands (N, width * H) of one floating dtype, unit stride along
        their last axis."""
        dtype = views[0].dtype
        self.floating(what, dtype)
        shape = tuple(views[0].shape)
        if len(shape) != 2:
            raise ValueError(f"{self.backend} {what}: {names[0]} must be 2-D (N, H), got {shape}")
        n, hidden = shape[0], shape[1] // widths[0]
        for view, width, name in zip(views, widths, names):
            if tuple(view.shape) != (n, width * hidden):
                expected = f"(N, {width}H)" if width > 1 else "(N, H)"
                raise ValueError(
                    f"{self.backend} {what}: {name} must be {expected} = {(n, width * hidden)}, "
                    f"got {tuple(view.shape)}"
                )
            if width * hidden > 1 and view.strides[1] != 1:
                raise ValueError(
                    f"{self.backend} {what}: {name} needs unit stride along its last axis, got "
                    f"strides {tuple(view.strides)} (compact it first)"
                )
            self.view(view, what, dtype, name)
        return (n, hidden) if n and hidden else (0, 0)

    def _cross_entropy_shapes(self, what, rows, target, compact, zero_d, scale):
        self.floating(what, rows.dtype)
        shape = tuple(rows.shape)
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise ValueError(f"{self.backend} {what}: expected (N, C) with N, C >= 1, got {shape}")
        if tuple(target.shape) != shape[:1] or tuple(zero_d.shape) != ():
            raise ValueError(
                f"{self.backend} {what}: target {tuple(target.shape)} must be ({shape[0]},) "
                f"and the loss (or its gradient) 0-d, got {tuple(zero_d.shape)}"
            )
        if tuple(compact.shape) != shape:
            raise ValueError(f"{self.backend} {what}: the (N, C) output must have shape {shape}")
        self.compact(f"{what} (N, C) output", compact)
        self.view(target, what, "int64", "target")
        check_scalar(scale, "float64", f"{self.backend} {what} scale")
        return shape


# --- shape rules: pure functions of shapes, cached ------------------------------------------


def _axis(backend: str, what: str, axis: object, ndim: int, shape: tuple) -> int:
    """An axis in [0, ndim): the protocol's axes are non-negative (the core normalises)."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{backend} {what}: axis must be an integer, got {axis!r}")
    if not 0 <= axis < ndim:
        raise ValueError(
            f"{backend} {what}: axis {axis} out of range for shape {shape} (the protocol takes "
            f"axes in [0, {ndim}))"
        )
    return int(axis)


@functools.lru_cache(maxsize=_CACHE_MAX)
def _reduce_rule(backend, op, shape, axes, out_shape, out_strides) -> tuple[int, ...]:
    what = f"{backend} reduce {op}"
    checked = {_axis(backend, f"reduce {op}", a, len(shape), shape) for a in axes}
    if len(checked) != len(axes):
        raise ValueError(f"{what}: repeated axis in {axes}")
    axes = tuple(sorted(checked))
    kept = tuple(s for d, s in enumerate(shape) if d not in checked)
    if out_shape not in (kept, tuple(1 if d in checked else s for d, s in enumerate(shape))):
        raise ValueError(
            f"{what}: out shape {out_shape} does not match x shape {shape} reduced over axes {axes}"
        )
    if any(s > 1 and st == 0 for s, st in zip(out_shape, out_strides)):
        raise ValueError(f"{what}: out may not broadcast (strides {out_strides})")
    if op in ("max", "min") and 0 not in kept and any(shape[a] == 0 for a in axes):
        raise ValueError(f"{what}: empty extent in shape {shape}: max and min have no identity")
    return axes


@functools.lru_cache(maxsize=_CACHE_MAX)
def _matmul_rule(backend, a, b, out) -> tuple[int, int, int, int]:
    for shape, name in ((a, "a"), (b, "b"), (out, "out")):
        if len(shape) != 3:
            raise ValueError(f"{backend} matmul: {name} must be 3-D (B, M, K), got {shape}")
    (ba, m, k), (bb, k2, n) = a, b
    batch = max(ba, bb)
    if k2 != k or ba not in (1, batch) or bb not in (1, batch) or out != (batch, m, n):
        raise ValueError(f"{backend} matmul: shapes {a} @ {b} -> {out} do not match")
    return batch, m, n, k


def _ints(backend: str, what: str, name: str, value: object, length: int) -> tuple[int, ...]:
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if (
        values is None
        or len(values) != length
        or any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values)
    ):
        raise TypeError(f"{backend} {what}: {name} must be {length} integer(s), got {value!r}")
    return tuple(int(v) for v in values)


@functools.lru_cache(maxsize=_CACHE_MAX)
def _conv_rule(backend, what, x, w, o, stride, padding, dilation, groups) -> tuple[int, ...]:
    if len(x) != 4 or len(w) != 4 or len(o) != 4:
        raise ValueError(f"{backend} {what}: expected 4-D x, w, out; got {x}, {w}, {o}")
    (n, c, h, wd), (oc, cg, kh, kw), (n2, o2, oh, ow) = x, w, o
    if groups < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or kh < 1 or kw < 1:
        raise ValueError(
            f"{backend} {what}: need stride, dilation, groups >= 1, padding >= 0 and a kernel "
            f"of at least 1x1; got stride {stride}, padding {padding}, dilation {dilation}, "
            f"groups {groups}, kernel {kh}x{kw}"
        )
    eh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ew = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if (
        c % groups or oc % groups or cg * groups != c or n2 != n or o2 != oc
        or (oh, ow) != (max(eh, 0), max(ew, 0))
    ):  # fmt: skip
        raise ValueError(
            f"{backend} {what}: x {x}, w {w}, out {o} do not fit stride {stride}, padding "
            f"{padding}, dilation {dilation}, groups {groups}"
        )
    return (n, c, h, wd, oc, kh, kw, oh, ow, *stride, *padding, *dilation, groups)
