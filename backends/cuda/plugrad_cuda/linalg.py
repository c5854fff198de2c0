"""matmul and the three conv2d kernels on the one strided GEMM (kernels/gemm.cu); the
convolutions go through im2col / col2im (kernels/conv.cu) a chunk of images at a time."""

from __future__ import annotations

import ctypes
import math

from . import checks, dtypes
from .base import View
from .checks import VALID
from .launch import Geometry, i64

# PG_GEMM_TILES: the (BM, BN) tile of each dtype's GEMM kernel
TILES = {"float32": (128, 128), "float64": (64, 64)}
GEMM_THREADS = 256
MAX_GRID_YZ = 65535
COLS_ELEMENTS = 1 << 24  # im2col scratch per chunk of images (64 MiB of float32)


class GemmArgs(ctypes.Structure):
    """pg::GemmArgs: sizes, batch split, per-operand strides (batch1, batch2, row, col)."""

    _fields_ = [
        ("m", ctypes.c_int64), ("n", ctypes.c_int64), ("k", ctypes.c_int64),
        ("batch", ctypes.c_int64), ("batch2", ctypes.c_int64),
        ("a", ctypes.c_int64 * 4), ("b", ctypes.c_int64 * 4), ("c", ctypes.c_int64 * 4),
        ("alpha", ctypes.c_double), ("beta", ctypes.c_double),
    ]  # fmt: skip


class ConvShape(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_int64)
        for name in ("n", "c", "h", "w", "o", "kh", "kw", "oh", "ow", "sh", "sw", "ph", "pw",
                     "dh", "dw", "groups")
    ]  # fmt: skip


class LinalgKernels:
    # --- the GEMM ------------------------------------------------------------------------
    def gemm(
        self,
        a: int,
        b: int,
        c: int,
        dtype: str,
        m: int,
        n: int,
        k: int,
        batch: tuple[int, int],
        sa,
        sb,
        sc,
        alpha: float = 1.0,
        beta: float = 0.0,
    ) -> None:
        """C = alpha * A @ B + beta * C on device addresses; batch = (B1, B2) and the strides
        (batch1, batch2, row, col) of each operand in elements."""  # fmt: skip
        bm, bn = TILES[dtype]
        b1, b2 = batch
        total = b1 * b2
        if m == 0 or n == 0 or total == 0:
            return
        grid_y = -(-m // bm)
        if grid_y > MAX_GRID_YZ:
            raise ValueError(f"cuda matmul: {m} rows exceed the grid ({MAX_GRID_YZ * bm} at most)")
        args = GemmArgs(m, n, k, total, b2, (ctypes.c_int64 * 4)(*sa), (ctypes.c_int64 * 4)(*sb),
                        (ctypes.c_int64 * 4)(*sc), alpha, beta)  # fmt: skip
        geometry = Geometry((-(-n // bn), grid_y, min(total, MAX_GRID_YZ)), (GEMM_THREADS, 1, 1))
        self.launch(f"pg_gemm_{dtype}", geometry, _ptr64(a), _ptr64(b), _ptr64(c), args)

    def matmul(self, a, b, out):
        dt = a.dtype
        batch, m, n, k = VALID.matmul(a, b, out)
        if dt in dtypes.HALVES:  # accumulate in float32, round once
            self.on_float32(self.matmul, (a, b), (out,))
            return
        ba, bb = a.shape[0], b.shape[0]
        sa = (a.strides[0] if ba > 1 else 0, 0, a.strides[1], a.strides[2])
        sb = (b.strides[0] if bb > 1 else 0, 0, b.strides[1], b.strides[2])
        sc = (out.strides[0], 0, out.strides[1], out.strides[2])
        self.gemm(self.address(a), self.address(b), self.address(out), dt, m, n, k, (batch, 1),
                  sa, sb, sc)  # fmt: skip

    # --- convolutions --------------------------------------------------------------------
    def _conv_operands(self, what, first, second, out):
        """Compact (first, second) and the compact target for out (views already checked)."""
        first, second = (v if checks.has_compact_strides(v) else self._compacted(v)
                         for v in (first, second))  # fmt: skip
        target = out if checks.has_compact_strides(out) else self.scratch(out.shape, out.dtype)
        return first, second, target

    def _compacted(self, x):
        tmp = self.scratch(x.shape, x.dtype)
        self.compact(x, tmp)
        return tmp

    def _finish(self, target, out) -> None:
        if target is not out:
            self.assign(target, out)

    @staticmethod
    def _chunk(s: ConvShape) -> int:
        per_image = max(1, s.c * s.kh * s.kw * s.oh * s.ow)
        return max(1, min(s.n, COLS_ELEMENTS // per_image))

    def _im2col(self, x, cols, s, n0, count, dt) -> None:
        total = s.c * s.kh * s.kw * count * s.oh * s.ow
        self.launch_elements(f"pg_im2col_{dt}", total, self.ptr(x), self.ptr(cols), s, i64(n0),
                             i64(count))  # fmt: skip

    def conv2d(self, x, w, out, stride, padding, dilation, groups):
        s = ConvShape(*VALID.conv2d(x, w, out, stride, padding, dilation, groups))
        if x.dtype in dtypes.HALVES:

            def kernel(x32, w32, out32):
                self.conv2d(x32, w32, out32, stride, padding, dilation, groups)

            self.on_float32(kernel, (x, w), (out,))
            return
        x, w, target = self._conv_operands("conv2d", x, w, out)
        if math.prod(out.shape) == 0:
            return
        dt, g = x.dtype, s.groups
        og, ckk, ohw = s.o // g, (s.c // g) * s.kh * s.kw, s.oh * s.ow
        chunk = self._chunk(s)
        cols = self.scratch((s.c * s.kh * s.kw, chunk * ohw), dt)
        item = dtypes.BY_NAME[dt].itemsize
        for n0 in range(0, s.n, chunk):
            count = min(chunk, s.n - n0)
            self._im2col(x, cols, s, n0, count, dt)
            # out[n0 + i, g*og + o, pq] = sum_ck w[g*og + o, ck] * cols[g*ckk + ck, i*ohw + pq]
            self.gemm(self.address(w), self.address(cols),
                      self.address(target) + n0 * s.o * ohw * item, dt, og, ohw, ckk, (count, g),
                      (0, og * ckk, ckk, 1), (ohw, ckk * count * ohw, count * ohw, 1),
                      (s.o * ohw, og * ohw, ohw, 1))  # fmt: skip
        self._finish(target, out)

    def conv2d_backward_input(self, grad_out, w, grad_x, stride, padding, dilation, groups):
        s = ConvShape(*VALID.conv2d_backward_input(grad_out, w, grad_x, stride, padding,
                                                   dilation, groups))  # fmt: skip
        if grad_out.dtype in dtypes.HALVES:

            def kernel(g32, w32, out32):
                self.conv2d_backward_input(g32, w32, out32, stride, padding, dilation, groups)

            self.on_float32(kernel, (grad_out, w), (grad_x,))
            return
        grad_out, w, target = self._conv_operands("conv2d_backward_input", grad_out, w, grad_x)
        if math.prod(grad_x.shape) == 0:
            return
        dt, g = grad_out.dtype, s.groups
        og, ckk, ohw = s.o // g, (s.c // g) * s.kh * s.kw, s.oh * s.ow
        if ohw == 0 or s.o == 0:
            self.fill(target, 0)
            self._finish(target, grad_x)
            return
        chunk = self._chunk(s)
        cols = self.scratch((s.c * s.kh * s.kw, chunk * ohw), dt)
        item = dtypes.BY_NAME[dt].itemsize
        for n0 in range(0, s.n, chunk):
            count = min(chunk, s.n - n0)
            # cols[g*ckk + ck, i*ohw + pq] = sum_o w[g*og + o, ck] * grad[n0 + i, g*og + o, pq]
            self.gemm(self.address(w), self.address(grad_out) + n0 * s.o * ohw * item,
                      self.address(cols), dt, ckk, ohw, og, (count, g),
                      (0, og * ckk, 1, ckk), (s.o * ohw, og * ohw, ohw, 1),
                      (ohw, ckk * count * ohw, count * ohw, 1))  # fmt: skip
            total = count * s.c * s.h * s.w
            self.launch_elements(f"pg_col2im_{dt}", total, self.ptr(cols), self.ptr(target), s,
                                 i64(n0), i64(count))  # fmt: skip
        self._finish(target, grad_x)

    def conv2d_backward_weight(self, x, grad_out, grad_w, stride, padding, dilation, groups):
        s = ConvShape(*VALID.conv2d_backward_weight(x, grad_out, grad_w, stride, padding,
                                                    dilation, groups))  # fmt: skip
        if x.dtype in dtypes.HALVES:

            def kernel(x32, g32, out32):
                self.conv2d_backward_weight(x32, g32, out32, stride, padding, dilation, groups)

            self.on_float32(kernel, (x, grad_out), (grad_w,))
            return
        x, grad_out, target = self._conv_operands("conv2d_backward_weight", x, grad_out, grad_w)
        if math.prod(grad_w.shape) == 0:
            return
        dt, g = x.dtype, s.groups
        og, ckk, ohw = s.o // g, (s.c // g) * s.kh * s.kw, s.oh * s.ow
        if ohw == 0 or s.n == 0:
            self.fill(target, 0)
            self._finish(target, grad_w)
            return
        chunk = self._chunk(s)
        cols = self.scratch((s.c * s.kh * s.kw, chunk * ohw), dt)
        grads = self.scratch((g, og, chunk * ohw), dt)
        for n0 in range(0, s.n, chunk):
            count = min(chunk, s.n - n0)
            self._im2col(x, cols, s, n0, count, dt)
            # grad_out[n0:n0+count] as (g, og, count, ohw), compact: the GEMM's K is (i, pq)
            source = View(
                grad_out.buffer,
                (g, og, count, ohw),
                (og * ohw, ohw, s.o * ohw, 1),
                grad_out.offset + n0 * s.o * ohw,
            )
            packed = View(grads.buffer, (g, og, count, ohw))
            self.compact(source, packed)
            k = count * ohw
            # grad_w[g*og + o, ck] (+)= sum_k grads[g, o, k] * cols[g*ckk + ck, k]
            self.gemm(self.address(grads), self.address(cols), self.address(target), dt, og, ckk,
                      k, (1, g), (0, og * k, k, 1), (0, ckk * k, 1, k), (0, og * ckk, ckk, 1),
                      beta=0.0 if n0 == 0 else 1.0)  # fmt: skip
        self._finish(target, grad_w)


def _ptr64(address: int) -> ctypes.c_uint64:
    return ctypes.c_uint64(address)
