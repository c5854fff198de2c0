"""The optional fused kernels (protocol.FusedKernels) on kernels/fused.cu."""

from __future__ import annotations

from . import layout
from .base import THREADS
from .checks import VALID
from .launch import Geometry, f64, i64
from .reductions import LONG_ROW, WARPS, _grid


class FusedKernelsMixin:
    def relu_backward(self, grad, y, out):
        n = VALID.relu_backward(grad, y, out)
        if n:
            lay = layout.make(out.shape, out.strides, grad.strides, y.strides)
            self.launch_elements(f"pg_relu_backward_{out.dtype}", n, self.ptr(out),
                                 self.ptr(grad), self.ptr(y), lay, i64(n))  # fmt: skip

    def axpy(self, alpha, x, out):
        n = VALID.axpy(alpha, x, out)
        if n:
            lay = layout.make(out.shape, out.strides, x.strides)
            self.launch_elements(f"pg_axpy_{out.dtype}", n, self.ptr(out), self.ptr(x),
                                 f64(float(alpha)), lay, i64(n))  # fmt: skip

    def cross_entropy(self, logits, target, scale, log_probs, loss):
        dt = logits.dtype
        n, c = VALID.cross_entropy(logits, target, scale, log_probs, loss)
        self.check_index("cross_entropy target", target, c)
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
        n, c = VALID.cross_entropy_backward(log_probs, target, grad, scale, out)
        self.check_index("cross_entropy_backward target", target, c)
        self.launch_elements(f"pg_cross_entropy_backward_{dt}", n * c, self.ptr(log_probs),
                             self.ptr(target), i64(target.strides[0]), self.ptr(grad),
                             f64(float(scale)), i64(n), i64(c), self.ptr(out))  # fmt: skip

    def softmax(self, x, out):
        self._softmax("softmax", 0, x, out)

    def log_softmax(self, x, out):
        self._softmax("log_softmax", 1, x, out)

    def softmax_backward(self, y, grad, out):
        self._softmax_backward("softmax_backward", 0, y, grad, out)

    def log_softmax_backward(self, y, grad, out):
        self._softmax_backward("log_softmax_backward", 1, y, grad, out)

    def _softmax(self, what, is_log, x, out):
        n, c = VALID.softmax(what, x, out)
        if n:
            per_block = 1 if c >= LONG_ROW else WARPS
            self.launch(f"pg_softmax_{x.dtype}", _grid(n, per_block), self.ptr(x), i64(n),
                        i64(c), self.ptr(out), i64(per_block), i64(is_log))  # fmt: skip

    def _softmax_backward(self, what, is_log, y, grad, out):
        n, c = VALID.softmax_backward(what, y, grad, out)
        if n:
            per_block = 1 if c >= LONG_ROW else WARPS
            self.launch(f"pg_softmax_backward_{y.dtype}", _grid(n, per_block), self.ptr(y),
                        self.ptr(grad), i64(n), i64(c), self.ptr(out), i64(per_block),
                        i64(is_log))  # fmt: skip
