"""The optional fused kernels (protocol.FusedKernels) on kernels/fused.cu."""

from __future__ import annotations

import ctypes

from . import dtypes, layout
from .base import THREADS
from .checks import VALID
from .launch import Geometry, f64, i64
from .reductions import LONG_ROW, WARPS, _grid


class FusedKernelsMixin:
    """16-bit floats run on float32 copies (base.on_float32), rounded once at the end."""

    def relu_backward(self, grad, y, out):
        n = VALID.relu_backward(grad, y, out)
        if out.dtype in dtypes.HALVES:
            self.on_float32(self.relu_backward, (grad, y), (out,))
            return
        if n:
            lay = layout.make(out.shape, out.strides, grad.strides, y.strides)
            self.launch_elements(f"pg_relu_backward_{out.dtype}", n, self.ptr(out),
                                 self.ptr(grad), self.ptr(y), lay, i64(n))  # fmt: skip

    def axpy(self, alpha, x, out):
        n = VALID.axpy(alpha, x, out)
        if out.dtype in dtypes.HALVES:  # out + alpha * x in float32, rounded once
            self.on_float32(lambda x32, out32: self.axpy(alpha, x32, out32), (x,), (out,), True)
            return
        if n:
            lay = layout.make(out.shape, out.strides, x.strides)
            self.launch_elements(f"pg_axpy_{out.dtype}", n, self.ptr(out), self.ptr(x),
                                 f64(float(alpha)), lay, i64(n))  # fmt: skip

    def cross_entropy(self, logits, target, scale, log_probs, loss):
        dt = logits.dtype
        n, c = VALID.cross_entropy(logits, target, scale, log_probs, loss)
        if dt in dtypes.HALVES:

            def wide(logits32, target, log_probs32, loss32):
                self.cross_entropy(logits32, target, scale, log_probs32, loss32)

            self.on_float32(wide, (logits, target), (log_probs, loss))
            return
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
        if dt in dtypes.HALVES:

            def wide(log_probs32, target, grad32, out32):
                self.cross_entropy_backward(log_probs32, target, grad32, scale, out32)

            self.on_float32(wide, (log_probs, target, grad), (out,))
            return
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
        if x.dtype in dtypes.HALVES:
            self.on_float32(lambda x32, out32: self._softmax(what, is_log, x32, out32), (x,),
                            (out,))  # fmt: skip
            return
        if n:
            per_block = 1 if c >= LONG_ROW else WARPS
            self.launch(f"pg_softmax_{x.dtype}", _grid(n, per_block), self.ptr(x), i64(n),
                        i64(c), self.ptr(out), i64(per_block), i64(is_log))  # fmt: skip

    def _softmax_backward(self, what, is_log, y, grad, out):
        n, c = VALID.softmax_backward(what, y, grad, out)
        if y.dtype in dtypes.HALVES:

            def wide(y32, grad32, out32):
                self._softmax_backward(what, is_log, y32, grad32, out32)

            self.on_float32(wide, (y, grad), (out,))
            return
        if n:
            per_block = 1 if c >= LONG_ROW else WARPS
            self.launch(f"pg_softmax_backward_{y.dtype}", _grid(n, per_block), self.ptr(y),
                        self.ptr(grad), i64(n), i64(c), self.ptr(out), i64(per_block),
                        i64(is_log))  # fmt: skip

    def lstm_gates(self, projected, recurrent, c_prev, gates, c, h):
        self._gates("lstm_gates", (projected, recurrent, c_prev), (gates, c, h))

    def lstm_gates_backward(self, dh, dc, gates, c, c_prev, d_pre, dc_prev):
        self._gates("lstm_gates_backward", (dh, dc, gates, c, c_prev), (d_pre, dc_prev))

    def _gates(self, what, inputs, outputs):
        n, hidden = getattr(VALID, what)(*inputs, *outputs)
        if outputs[0].dtype in dtypes.HALVES:
            count = len(inputs)
            self.on_float32(lambda *views: self._gates(what, views[:count], views[count:]),
                            inputs, outputs)  # fmt: skip
            return
        if n:
            views = (*inputs, *outputs)
            rows = (ctypes.c_int64 * 7)(*(v.strides[0] for v in views))
            pointers = [self.ptr(v) for v in views]
            name = f"pg_{what}_{outputs[0].dtype}"
            self.launch_elements(name, n * hidden, *pointers, rows, i64(n), i64(hidden))
