"""gather, scatter_add (kernels/index.cu) and the random kernels (kernels/random.cu)."""

from __future__ import annotations

import math

import numpy as np

from . import layout
from .checks import VALID
from .launch import f64, i64, u64
from .ops import RANDOM_CODES


class IndexKernels:
    def check_index(self, what: str, index, bound: int) -> None:
        """IndexError unless every value of the int64 view `index` lies in [0, bound), before
        any kernel writes (one launch and an 8-byte read-back, which waits for the device)."""
        n = math.prod(index.shape)
        if not n:
            return
        flag = self.scratch((1,), "int64")
        self.fill(flag, 0)
        lay = layout.make(tuple(index.shape), tuple(index.strides))
        self.launch_elements("pg_check_index", n, self.ptr(index), lay, i64(n), i64(bound),
                             self.ptr(flag))  # fmt: skip
        host = np.empty(1, dtype=np.int64)
        self.runtime.download(host, flag.buffer.address)
        if host[0]:
            raise IndexError(f"cuda {what}: a value lies outside [0, {bound}) (the size indexed)")

    def gather(self, x, axis, index, out):
        axis, n = VALID.gather(x, axis, index, out)
        if not n:
            return
        self.check_index("gather index", index, x.shape[axis])
        xs = tuple(0 if d == axis else s for d, s in enumerate(x.strides))
        lay = layout.make(index.shape, out.strides, index.strides, xs)
        self.launch_elements(f"pg_gather_{x.dtype}", n, self.ptr(out), self.ptr(x),
                             self.ptr(index), lay, i64(x.shape[axis]), i64(x.strides[axis]),
                             i64(n))  # fmt: skip

    def scatter_add(self, out, axis, index, src):
        axis, n = VALID.scatter_add(out, axis, index, src)
        if not n:
            return
        self.check_index("scatter_add index", index, out.shape[axis])
        os_ = tuple(0 if d == axis else s for d, s in enumerate(out.strides))
        lay = layout.make(index.shape, os_, index.strides, src.strides)
        self.launch_elements(f"pg_scatter_add_{out.dtype}", n, self.ptr(out), self.ptr(index),
                             self.ptr(src), lay, i64(out.shape[axis]), i64(out.strides[axis]),
                             i64(n))  # fmt: skip

    # --- random numbers --------------------------------------------------------------------
    def _random(self, kind, out, a, b, seed, what):
        n = VALID.random(kind, out, seed)
        if not n:
            return
        lay = layout.make(out.shape, out.strides)
        seed = int(seed)
        self.launch_elements(f"pg_random_{out.dtype}", n, i64(RANDOM_CODES[kind]), self.ptr(out),
                             lay, f64(float(a)), f64(float(b)), u64(seed), i64(n))  # fmt: skip

    def random_uniform(self, out, low, high, seed):
        self._random("uniform", out, low, high, seed, "random_uniform")

    def random_normal(self, out, mean, std, seed):
        self._random("normal", out, mean, std, seed, "random_normal")

    def random_bernoulli(self, out, p, seed):
        self._random("bernoulli", out, p, 0.0, seed, "random_bernoulli")
