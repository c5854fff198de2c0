"""gather, scatter_add (kernels/index.cu) and the random kernels (kernels/random.cu)."""

from __future__ import annotations

from plugrad.backend.validation import check_random

from . import checks, layout
from .launch import f64, i64, u64
from .ops import RANDOM_CODES


class IndexKernels:
    def gather(self, x, axis, index, out):
        checks.check(x, "gather x")
        n = checks.check(index, "gather index", "int64")
        checks.check(out, "gather out", x.dtype)
        checks.same_shape("gather (index, out)", index, out)
        axis = checks.index_axis("gather", index, x, axis, "x")
        for d, (i, s) in enumerate(zip(index.shape, x.shape)):
            if d != axis and i > s:
                raise ValueError(f"cuda gather: index {index.shape} exceeds x {x.shape} on dim {d}")
        if not n:
            return
        if x.shape[axis] == 0:
            raise IndexError(f"cuda gather: axis {axis} of x {x.shape} is empty")
        xs = tuple(0 if d == axis else s for d, s in enumerate(x.strides))
        lay = layout.make(index.shape, out.strides, index.strides, xs)
        self.launch_elements(f"pg_gather_{x.dtype}", n, self.ptr(out), self.ptr(x),
                             self.ptr(index), lay, i64(x.shape[axis]), i64(x.strides[axis]),
                             i64(n))  # fmt: skip

    def scatter_add(self, out, axis, index, src):
        checks.check(out, "scatter_add out")
        n = checks.check(index, "scatter_add index", "int64")
        checks.check(src, "scatter_add src", out.dtype)
        axis = checks.index_axis("scatter_add", index, out, axis, "out")
        checks.index_axis("scatter_add", index, src, axis, "src")
        for d, i in enumerate(index.shape):
            if i > src.shape[d] or (d != axis and i > out.shape[d]):
                raise ValueError(
                    f"cuda scatter_add: index {index.shape} exceeds src {src.shape} or out "
                    f"{out.shape} on dim {d}"
                )
        if not n:
            return
        if out.shape[axis] == 0:
            raise IndexError(f"cuda scatter_add: axis {axis} of out {out.shape} is empty")
        os_ = tuple(0 if d == axis else s for d, s in enumerate(out.strides))
        lay = layout.make(index.shape, os_, index.strides, src.strides)
        self.launch_elements(f"pg_scatter_add_{out.dtype}", n, self.ptr(out), self.ptr(index),
                             self.ptr(src), lay, i64(out.shape[axis]), i64(out.strides[axis]),
                             i64(n))  # fmt: skip

    # --- random numbers --------------------------------------------------------------------
    def _random(self, kind, out, a, b, seed, what):
        n = checks.check(out, what)
        check_random("cuda", kind, out.dtype, seed)
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
