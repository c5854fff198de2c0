"""Reductions and arg reductions (kernels/reduce.cu): the host side orders x's dimensions into
kept and reduced ones and picks how many threads fold one output."""

from __future__ import annotations

import math

from . import checks, dtypes, layout
from .base import MAX_BLOCKS, THREADS, View
from .checks import VALID
from .launch import Geometry, i64
from .ops import ARG_REDUCE_CODES, REDUCE_CODES

LONG_ROW = 2048  # rows at least this long get a whole block, shorter ones a warp
SPLIT_ROW = 1 << 16  # rows this long, when there are few, are cut into parts (two passes)
FEW_OUTPUTS = 64
WARPS = THREADS // 32


def _grid(n_rows: int, per_block: int) -> Geometry:
    blocks = max(1, min(-(-n_rows // per_block), MAX_BLOCKS))
    return Geometry((blocks, 1, 1), (THREADS, 1, 1), 0)


class ReductionKernels:
    def reduce(self, op, x, axes, out):
        axes = VALID.reduce(op, x, axes, out)
        code = REDUCE_CODES[op]
        nd = len(x.shape)
        ostrides = checks.reduced_out_strides(x, axes, out)
        kept = [d for d in range(nd) if d not in axes]
        n_out = math.prod(x.shape[d] for d in kept)
        n_red = math.prod(x.shape[d] for d in axes)
        if n_out == 0:
            return
        if n_red == 0:
            self.fill(out, 0 if op == "sum" else 1)
            return
        outer = layout.make(
            tuple(x.shape[d] for d in kept),
            tuple(ostrides[d] for d in kept),
            tuple(x.strides[d] for d in kept),
        )
        inner = layout.make(tuple(x.shape[d] for d in axes), tuple(x.strides[d] for d in axes))
        name = f"pg_reduce_{x.dtype}"
        if n_red >= SPLIT_ROW and n_out < FEW_OUTPUTS:
            if x.dtype in dtypes.HALVES:  # the partial results in float32, rounded once
                self.on_float32(lambda x32, out32: self.reduce(op, x32, axes, out32), (x,), (out,))
                return
            # pass 1: each row in `split` parts into a compact (n_out, split) scratch
            split = min(-(-n_red // (LONG_ROW * 8)), 1024)
            partial = self.scratch((n_out, split), x.dtype)
            self.launch(name, _grid(n_out * split, 1), i64(code), self.ptr(partial), self.ptr(x),
                        outer, inner, i64(n_out), i64(n_red), i64(1), i64(split))  # fmt: skip
            kept_shape = tuple(x.shape[d] for d in kept)
            folded = View(partial.buffer, kept_shape + (split,))
            target = View(out.buffer, kept_shape, tuple(ostrides[d] for d in kept), out.offset)
            self.reduce(op, folded, (len(kept),), target)
            return
        per_block = 1 if n_red >= LONG_ROW else WARPS
        self.launch(name, _grid(n_out, per_block), i64(code), self.ptr(out), self.ptr(x), outer,
                    inner, i64(n_out), i64(n_red), i64(per_block), i64(1))  # fmt: skip

    def arg_reduce(self, op, x, axis, out):
        axis = VALID.arg_reduce(op, x, axis, out)
        code = ARG_REDUCE_CODES[op]
        nd = len(x.shape)
        ostrides = checks.reduced_out_strides(x, (axis,), out)
        kept = [d for d in range(nd) if d != axis]
        n_out = math.prod(x.shape[d] for d in kept)
        if n_out == 0:
            return
        n = x.shape[axis]
        outer = layout.make(
            tuple(x.shape[d] for d in kept),
            tuple(ostrides[d] for d in kept),
            tuple(x.strides[d] for d in kept),
        )
        per_block = 1 if n >= LONG_ROW else WARPS
        self.launch(f"pg_arg_reduce_{x.dtype}", _grid(n_out, per_block), i64(code),
                    self.ptr(out), self.ptr(x), outer, i64(n_out), i64(n), i64(x.strides[axis]),
                    i64(per_block))  # fmt: skip


__all__ = ["ReductionKernels"]
