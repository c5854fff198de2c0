"""Stable sort with indices and inclusive scans along one axis (kernels/order.cu). The host
side checks the operands with the core's shared validation and lays the other dimensions out
as rows: one row per position of the compact outputs."""

from __future__ import annotations

import math

from . import dtypes, layout
from .base import MAX_BLOCKS, THREADS
from .checks import VALID
from .launch import Geometry, i64

SORT_BLOCK_MAX = 2048  # rows up to this long are sorted in shared memory by one block
SCAN_CODES = {"sum": 0, "prod": 1, "max": 2, "min": 3, "logaddexp": 4}


def _rows(x, axis: int, out) -> tuple[int, object]:
    """(row count, pg::Layout<2> over the dims other than `axis`: out strides, x strides)."""
    kept = [d for d in range(len(x.shape)) if d != axis]
    n_rows = math.prod(x.shape[d] for d in kept)
    outer = layout.make(
        tuple(x.shape[d] for d in kept),
        tuple(out.strides[d] for d in kept),
        tuple(x.strides[d] for d in kept),
    )
    return n_rows, outer


class OrderKernels:
    def _row_geometry(self, n_rows: int, shared: int = 0) -> Geometry:
        blocks = max(1, min(n_rows, self.runtime.grid_stride_blocks, MAX_BLOCKS))
        return Geometry((blocks, 1, 1), (THREADS, 1, 1), shared)

    def sort(self, x, axis, descending, values_out, indices_out):
        axis, count = VALID.sort(x, axis, descending, values_out, indices_out)
        if not count:
            return
        n = x.shape[axis]
        n_rows, outer = _rows(x, axis, values_out)
        p = 1 << max(0, (n - 1).bit_length())  # the network's width: a power of two >= n
        desc, name = i64(int(descending)), x.dtype
        out_v, out_i, xs = self.ptr(values_out), self.ptr(indices_out), i64(x.strides[axis])
        os_ = i64(values_out.strides[axis])
        if p <= SORT_BLOCK_MAX:
            shared = p * (8 + dtypes.BY_NAME[name].itemsize)
            self.launch(f"pg_sort_rows_{name}", self._row_geometry(n_rows, shared), out_v, out_i,
                        self.ptr(x), outer, i64(n_rows), i64(n), xs, os_, i64(p), desc)  # fmt: skip
            return
        values = self.scratch((n_rows, p), name)
        positions = self.scratch((n_rows, p), "int64")
        v, at = self.ptr(values), self.ptr(positions)
        self.launch_elements(f"pg_sort_load_{name}", n_rows * p, v, at, self.ptr(x), outer,
                             i64(n_rows), i64(n), xs, i64(p))  # fmt: skip
        k = 2
        while k <= p:
            j = k // 2
            while j:
                self.launch_elements(f"pg_sort_stage_{name}", n_rows * p // 2, v, at,
                                     i64(n_rows), i64(n), i64(p), i64(k), i64(j), desc)  # fmt: skip
                j //= 2
            k *= 2
        self.launch_elements(f"pg_sort_store_{name}", n_rows * n, out_v, out_i, v, at, outer,
                             i64(n_rows), i64(n), os_, i64(p))  # fmt: skip

    def scan(self, op, x, axis, out, indices_out):
        axis, count = VALID.scan(op, x, axis, out, indices_out)
        if not count:
            return
        if x.dtype == "bool" and op in ("sum", "prod"):
            op = "max" if op == "sum" else "min"  # logical or / and
        n_rows, outer = _rows(x, axis, out)
        indices = self.ptr(indices_out) if indices_out is not None else i64(0)
        self.launch(f"pg_scan_{x.dtype}", self._row_geometry(n_rows), i64(SCAN_CODES[op]),
                    self.ptr(out), indices, self.ptr(x), outer, i64(n_rows), i64(x.shape[axis]),
                    i64(x.strides[axis]), i64(out.strides[axis]))  # fmt: skip


__all__ = ["OrderKernels", "SORT_BLOCK_MAX"]
