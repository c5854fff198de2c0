"""The optional fused kernels (protocol.FusedKernels) on kernels/fused.cu."""

from __future__ import annotations

import numpy as np

from . import checks, dtypes, layout
from .base import THREADS
from .launch import Geometry, f64, i64
from .reductions import LONG_ROW, WARPS, _grid


class FusedKernelsMixin:
    def relu_backward(self, grad, y, out):
        checks.same_shape("relu_backward (grad, y, out)", grad, y, out)
        checks.floating("relu_backward", out.dtype, dtypes.FLOATS)
        n = checks.check(out, "relu_backward out")
        checks.check(grad, "relu_backward grad", out.dtype)
        checks.check(y, "relu_backward y", out.dtype)
        if n:
            lay = layout.make(out.shape, out.strides, grad.strides, y.strides)
            self.launch_elements(f"pg_relu_backward_{out.dtype}", n, self.ptr(out),
                                 self.ptr(grad), self.ptr(y), lay, i64(n))  # fmt: skip

    def axpy(self, alpha, x, out):
        checks.same_shape("axpy (x, out)", x, out)
        checks.floating("axpy", out.dtype, dtypes.FLOATS)
        n = checks.check(out, "axpy out")
        checks.check(x, "axpy x", out.dtype)
        if n:
            lay = layout.make(out.shape, out.strides, x.strides)
            self.launch_elements(f"pg_axpy_{out.dtype}", n, self.ptr(out), self.ptr(x),
                                 f64(float(alpha)), lay, i64(n))  # fmt: skip

    def _check_targets(self, what, target, n, c) -> None:
        """IndexError unless every target lies in [0, c) (one small read-back)."""
        flag = self.from_numpy(np.zeros(1, dtype=np.int64))
        self.launch_elements("pg_check_targets", n, self.ptr(target), i64(target.strides[0]),
                             i64(n), i64(c), self.ptr(_flat(flag)))  # fmt: skip
        host = np.empty(1, dtype=np.int64)
        self.runtime.download(host, flag.address)
        if host[0]:
            raise IndexError(f"cuda {what}: a target lies outside [0, {c})")

    def cross_entropy(self, logits, target, scale, log_probs, loss):
        dt = logits.dtype
        checks.floating("cross_entropy", dt, dtypes.FLOATS)
        n, c = checks.cross_entropy_operands("cross_entropy", logits, target, log_probs, loss)
        checks.check(logits, "cross_entropy logits")
        checks.check(log_probs, "cross_entropy log_probs", dt)
        checks.check(loss, "cross_entropy loss", dt)
        self._check_targets("cross_entropy", target, n, c)
        row_loss = self.scratch((n,), dt)
        per_block = 1 if c >= LONG_ROW else WARPS
        s0, s1 = logits.strides
        self.launch(f"pg_cross_entropy_{dt}", _grid(n, per_block), self.ptr(logits), i64(s0),
                    i64(s1), self.ptr(target), i64(target.strides[0]), i64(n), i64(c),
                    self.ptr(log_probs), self.ptr(row_loss), i64(per_block))  # fmt: skip
        self.launch(f"pg_sum_scale_{dt}", Geometry((1, 1, 1), (THREADS, 1, 1)),
                    self.ptr(row_loss), i64(n), f64(float(scale)), self.ptr(loss))  # fmt: skip

    def cross_entropy_backward(self, log_probs, target, grad, scale, out):
        dt = log_probs.dtype
        what = "cross_entropy_backward"
        checks.floating(what, dt, dtypes.FLOATS)
        n, c = checks.cross_entropy_operands(what, out, target, out, grad)
        if tuple(log_probs.shape) != tuple(out.shape) or not checks.has_compact_strides(log_probs):
            raise ValueError(
                f"cuda {what}: log_probs must be compact of shape {out.shape}, got shape "
                f"{log_probs.shape} strides {log_probs.strides}"
            )
        checks.check(log_probs, f"{what} log_probs")
        checks.check(grad, f"{what} grad", dt)
        checks.check(out, f"{what} out", dt)
        self._check_targets(what, target, n, c)
        self.launch_elements(f"pg_cross_entropy_backward_{dt}", n * c, self.ptr(log_probs),
                             self.ptr(target), i64(target.strides[0]), self.ptr(grad),
                             f64(float(scale)), i64(n), i64(c), self.ptr(out))  # fmt: skip


class _Flat:
    __slots__ = ("buffer", "shape", "strides", "offset", "dtype")

    def __init__(self, buffer) -> None:
        self.buffer, self.shape, self.strides = buffer, (buffer.size,), (1,)
        self.offset, self.dtype = 0, buffer.dtype


def _flat(buffer) -> _Flat:
    return _Flat(buffer)
