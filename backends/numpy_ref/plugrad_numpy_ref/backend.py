"""Every protocol kernel in NumPy. Buffers are 1-D NumPy arrays; views are `as_strided`.

`as_strided` trusts its strides, so every kernel first runs the core's shared argument checks
(`plugrad.backend.validation`): no view reaches outside its buffer, and shapes, dtypes, axes
and scalars are refused exactly as on every other backend.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
from numpy.lib.stride_tricks import as_strided

from plugrad import dtypes as _dt
from plugrad import random_stream
from plugrad.backend.validation import Validator, check_index_values
from plugrad.backend.validation_linalg import LinalgValidator

from .linalg import LinalgKernels

_DTYPES = {name: d.numpy for name, d in _dt.ALL.items()}  # every plugrad dtype
_HALF = frozenset(d.numpy for d in _dt.FLOATING if d.itemsize < 4)  # float16, bfloat16

_UNARY = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "sigmoid": lambda x: _sigmoid(x),
    "relu": lambda x: np.maximum(x, 0).astype(x.dtype, copy=False),
    "sign": np.sign,
    "sin": np.sin,
    "cos": np.cos,
    "erf": lambda x: _erf(x),
    "floor": np.floor,
    "ceil": np.ceil,
    "logical_not": np.logical_not,
    "bitwise_not": np.invert,  # on bool: logical not
}

_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
    "bitwise_left_shift": lambda a, b: _shift(a, b, left=True),
    "bitwise_right_shift": lambda a, b: _shift(a, b, left=False),
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}

_REDUCE = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}
_ARG_REDUCE = {"argmax": np.argmax, "argmin": np.argmin}
_SCAN = {
    "sum": np.cumsum,
    "prod": np.cumprod,
    "max": np.maximum.accumulate,  # np.maximum propagates NaN
    "min": np.minimum.accumulate,
    "logaddexp": np.logaddexp.accumulate,
}


def _shift(a: np.ndarray, b: np.ndarray, left: bool) -> np.ndarray:
    """torch's integer shifts: a count outside [0, bits) gives 0 (left) or the sign (right)."""
    bits = a.dtype.itemsize * 8
    inside = (b >= 0) & (b < bits)
    count = np.where(inside, b, 0)
    if left:
        shifted = np.left_shift(a.astype(np.uint64), count.astype(np.uint64)).astype(a.dtype)
        return np.where(inside, shifted, 0).astype(a.dtype)
    sign = np.right_shift(a, bits - 1) if a.dtype.kind == "i" else np.zeros_like(a)
    return np.where(inside, np.right_shift(a, count), sign)


_erf_vec = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows: 1/(1+e^-x) for x>=0, e^x/(1+e^x) otherwise.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _wide(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 values as float32 (they are computed in float32 and rounded once when
    stored, as on every backend); other arrays as they are."""
    return x.astype(np.float32) if x.dtype in _HALF else x


def _erf(x: np.ndarray) -> np.ndarray:
    return _erf_vec(x).astype(x.dtype, copy=False) if x.size else x.copy()


_VALID = Validator(
    "numpy_ref", np.ndarray, tuple(_DTYPES), buffer_dtype=lambda buffer: buffer.dtype.name
)


def _view(x, what: str = "view") -> np.ndarray:
    """The NumPy view of a Strided (buffer, shape, strides, offset, dtype), checked."""
    _VALID.view(x, what)
    return _array(x)


def _array(x) -> np.ndarray:
    """The NumPy view of a Strided the kernel's shared checks have passed."""
    buf = x.buffer
    item = buf.itemsize
    return as_strided(
        buf[x.offset :] if x.offset < buf.size else buf[buf.size :],
        shape=x.shape,
        strides=tuple(s * item for s in x.strides),
        writeable=True,
    )


def _conv_args(geometry: tuple[int, ...]) -> tuple:
    """(stride, padding, dilation, groups) of a checked convolution geometry, as integers."""
    return geometry[9:11], geometry[11:13], geometry[13:15], geometry[15]


class NumpyRefBackend(LinalgKernels):
    """The reference implementation of `plugrad.backend.protocol.Backend`, with the optional
    linear-algebra kernels (`LinalgKernels`, NumPy's LAPACK) and none of the fused ones."""

    name = "numpy_ref"
    dtypes = tuple(_DTYPES)
    is_host = True
    _check = LinalgValidator(_VALID)
    _np = staticmethod(_array)

    def __init__(self) -> None:
        self._allocated = 0

    # --- buffers -------------------------------------------------------------------------
    def _track(self, array: np.ndarray) -> np.ndarray:
        self._allocated += array.nbytes
        weakref.finalize(array, self._release, array.nbytes)
        return array

    def _release(self, nbytes: int) -> None:
        self._allocated -= nbytes

    def allocate(self, size, dtype):
        return self._track(np.empty(_VALID.allocation(size, dtype), dtype=_DTYPES[dtype]))

    def from_numpy(self, array, copy=True):
        array, share = _VALID.host_array(array, copy)
        if not share:
            return self._track(np.array(array, copy=True))
        return array  # shared memory: the caller's array owns it and stays alive through us

    def to_numpy(self, x):
        return _view(x, "to_numpy")

    def fill(self, out, value):
        _VALID.fill(out, value)
        _array(out)[...] = value

    def compact(self, x, out):
        _VALID.copy("compact", x, out)
        _array(out)[...] = _array(x)

    def assign(self, x, out):
        _VALID.copy("assign", x, out)
        _array(out)[...] = _array(x)

    # --- elementwise ---------------------------------------------------------------------
    def unary(self, op, x, out):
        _VALID.unary(op, x, out)
        with np.errstate(all="ignore"):
            _array(out)[...] = _UNARY[op](_wide(_array(x)))

    def binary(self, op, a, b, out):
        _VALID.binary(op, a, b, out)
        with np.errstate(all="ignore"):
            _array(out)[...] = self._binary(op, _wide(_array(a)), _wide(_array(b)))

    def scalar(self, op, a, value, out, reflected):
        _VALID.scalar(op, a, value, out)
        av = _wide(_array(a))
        sv = np.asarray(value, dtype=av.dtype)
        with np.errstate(all="ignore"):
            _array(out)[...] = self._binary(op, sv, av) if reflected else self._binary(op, av, sv)

    @staticmethod
    def _binary(op, a, b):
        if op == "pow" and a.dtype.kind == "i":
            # NumPy refuses negative integer powers; torch gives 0 (or +-1); match torch.
            b = np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape))
            neg = b < 0
            if neg.any():
                safe = np.power(a, np.where(neg, 0, b))
                inv = np.where(np.abs(a) == 1, np.where(b % 2 == 0, 1, a), 0)
                return np.where(neg, inv, safe)
        return _BINARY[op](a, b)

    def where(self, cond, a, b, out):
        _VALID.where(cond, a, b, out)
        _array(out)[...] = np.where(_array(cond), _array(a), _array(b))

    def cast(self, x, out):
        _VALID.cast(x, out)
        with np.errstate(all="ignore"):
            # 16-bit floats through float32 (exact): out-of-range and negative values reach
            # integers as from float32 (NumPy's x86 conversions, torch's too), where ml_dtypes'
            # own bfloat16 casts would give 0
            _array(out)[...] = _wide(_array(x)).astype(_DTYPES[out.dtype])

    # --- reductions ----------------------------------------------------------------------
    def reduce(self, op, x, axes, out):
        axes = _VALID.reduce(op, x, axes, out)
        keep = len(out.shape) == len(x.shape)  # out may keep the reduced axes as 1
        with np.errstate(all="ignore"):  # inf - inf is NaN, as every backend gives
            xv = _wide(_array(x))
            # integer sums and products wrap in their own dtype (NumPy would widen to int64)
            wrap = {"dtype": xv.dtype} if op in ("sum", "prod") and xv.dtype.kind in "iu" else {}
            _array(out)[...] = _REDUCE[op](xv, axis=axes, keepdims=keep, **wrap)

    def arg_reduce(self, op, x, axis, out):
        axis = _VALID.arg_reduce(op, x, axis, out)
        keep = len(out.shape) == len(x.shape)
        _array(out)[...] = _ARG_REDUCE[op](_wide(_array(x)), axis=axis, keepdims=keep)

    # --- order and scans -----------------------------------------------------------------
    def sort(self, x, axis, descending, values_out, indices_out):
        axis, _ = _VALID.sort(x, axis, descending, values_out, indices_out)
        xv = _wide(_array(x))
        if descending:  # stable descending: sort the reversed row, reverse the result
            last = xv.shape[axis] - 1
            flipped = np.flip(np.argsort(np.flip(xv, axis), axis=axis, kind="stable"), axis)
            order = last - flipped
        else:
            order = np.argsort(xv, axis=axis, kind="stable")  # NaN last, as torch
        _array(indices_out)[...] = order
        _array(values_out)[...] = np.take_along_axis(xv, order, axis)

    def scan(self, op, x, axis, out, indices_out):
        axis, _ = _VALID.scan(op, x, axis, out, indices_out)
        xv = _wide(_array(x))
        if xv.dtype == np.bool_ and op in ("sum", "prod"):
            op = "max" if op == "sum" else "min"  # logical or / and
        wide = xv.astype(np.float64) if xv.dtype == np.float32 else xv
        with np.errstate(all="ignore"):
            _array(out)[...] = _SCAN[op](wide, axis=axis)
        if indices_out is not None:
            running = _array(out)
            hits = (xv == running) | (xv != xv)  # x attains the running extreme (or is NaN)
            shape = [1] * xv.ndim
            shape[axis] = xv.shape[axis]
            positions = np.arange(xv.shape[axis], dtype=np.int64).reshape(shape)
            _array(indices_out)[...] = np.maximum.accumulate(
                np.where(hits, positions, 0), axis=axis
            )

    # --- linear algebra and convolution --------------------------------------------------
    def matmul(self, a, b, out):
        _VALID.matmul(a, b, out)
        if a.dtype in ("float16", "bfloat16"):  # accumulate in float32, round once
            _array(out)[...] = np.matmul(_wide(_array(a)), _wide(_array(b)))
        else:
            np.matmul(_array(a), _array(b), out=_array(out))

    @staticmethod
    def _windows(x, w_shape, out_shape, stride, padding, dilation):
        """(N, C, OH, OW, KH, KW) windows of the zero-padded NCHW array x, as a view."""
        ph, pw = padding
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        n, c = xp.shape[:2]
        kh, kw = w_shape[2:]
        oh, ow = out_shape[2:]
        s = xp.strides
        return as_strided(
            xp,
            shape=(n, c, oh, ow, kh, kw),
            strides=(s[0], s[1], s[2] * stride[0], s[3] * stride[1],
                     s[2] * dilation[0], s[3] * dilation[1]),
            writeable=False,
        )  # fmt: skip

    def conv2d(self, x, w, out, stride, padding, dilation, groups):
        geometry = _VALID.conv2d(x, w, out, stride, padding, dilation, groups)
        stride, padding, dilation, groups = _conv_args(geometry)
        xv, wv, ov = _wide(_array(x)), _wide(_array(w)), _array(out)
        o, cg = wv.shape[:2]
        cols = self._windows(xv, wv.shape, ov.shape, stride, padding, dilation)
        og = o // groups
        for g in range(groups):
            cg_cols = cols[:, g * cg : (g + 1) * cg]
            wg = wv[g * og : (g + 1) * og]
            ov[:, g * og : (g + 1) * og] = np.einsum("ncpqhw,ochw->nopq", cg_cols, wg)

    def conv2d_backward_input(self, grad_out, w, grad_x, stride, padding, dilation, groups):
        geometry = _VALID.conv2d_backward_input(
            grad_out, w, grad_x, stride, padding, dilation, groups
        )
        stride, padding, dilation, groups = _conv_args(geometry)
        gv, wv, gx = _wide(_array(grad_out)), _wide(_array(w)), _array(grad_x)
        n, c, h, wd = gx.shape
        o, cg, kh, kw = wv.shape
        _, _, oh, ow = gv.shape
        ph, pw = padding
        og = o // groups
        padded = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=gv.dtype)
        for g in range(groups):
            # contribution[n, c, p, q, i, j] = sum_o grad[n, o, p, q] * w[o, c, i, j]
            contrib = np.einsum(
                "nopq,ochw->ncpqhw", gv[:, g * og : (g + 1) * og], wv[g * og : (g + 1) * og]
            )
            for i in range(kh):
                for j in range(kw):
                    r0, c0 = i * dilation[0], j * dilation[1]
                    padded[
                        :, g * cg : (g + 1) * cg,
                        r0 : r0 + stride[0] * (oh - 1) + 1 : stride[0],
                        c0 : c0 + stride[1] * (ow - 1) + 1 : stride[1],
                    ] += contrib[:, :, :, :, i, j]  # fmt: skip
        gx[...] = padded[:, :, ph : ph + h, pw : pw + wd]

    def conv2d_backward_weight(self, x, grad_out, grad_w, stride, padding, dilation, groups):
        geometry = _VALID.conv2d_backward_weight(
            x, grad_out, grad_w, stride, padding, dilation, groups
        )
        stride, padding, dilation, groups = _conv_args(geometry)
        xv, gv, gw = _wide(_array(x)), _wide(_array(grad_out)), _array(grad_w)
        o, cg = gw.shape[:2]
        cols = self._windows(xv, gw.shape, gv.shape, stride, padding, dilation)
        og = o // groups
        for g in range(groups):
            gw[g * og : (g + 1) * og] = np.einsum(
                "ncpqhw,nopq->ochw", cols[:, g * cg : (g + 1) * cg], gv[:, g * og : (g + 1) * og]
            )

    # --- indexing ------------------------------------------------------------------------
    @staticmethod
    def _grid(index: np.ndarray, axis: int) -> tuple:
        grid = list(np.indices(index.shape, sparse=True))
        grid[axis] = index
        return tuple(grid)

    def gather(self, x, axis, index, out):
        axis, _ = _VALID.gather(x, axis, index, out)
        iv = _array(index)
        check_index_values(iv, x.shape[axis], "numpy_ref gather")
        _array(out)[...] = _array(x)[self._grid(iv, axis)]

    def scatter_add(self, out, axis, index, src):
        axis, _ = _VALID.scatter_add(out, axis, index, src)
        iv = _array(index)
        check_index_values(iv, out.shape[axis], "numpy_ref scatter_add")
        used = _array(src)[tuple(slice(0, side) for side in iv.shape)]  # src may be larger
        np.add.at(_array(out), self._grid(iv, axis), used)

    # --- random numbers ------------------------------------------------------------------
    # The core's reference stream itself (plugrad/random_stream.py), into strided views too.
    def random_uniform(self, out, low, high, seed):
        random_stream.fill(_view(out), "uniform", (low, high), seed)

    def random_normal(self, out, mean, std, seed):
        random_stream.fill(_view(out), "normal", (mean, std), seed)

    def random_bernoulli(self, out, p, seed):
        random_stream.fill(_view(out), "bernoulli", (p,), seed)

    # --- accounting ----------------------------------------------------------------------
    def allocated_bytes(self):
        return self._allocated

    def synchronize(self):
        return None
