"""The dtypes the CUDA backend stores, in the order of the kernels' dtype table
(kernels/pg_common.cuh, `PG_ALL_DTYPES`): a dtype's position is its code in the kernels (the
same codes as c_cpu's)."""

from __future__ import annotations

from typing import NamedTuple

import ml_dtypes
import numpy as np


class Dtype(NamedTuple):
    name: str
    numpy: np.dtype
    itemsize: int
    is_floating: bool


def _dtype(name: str, is_floating: bool) -> Dtype:
    numpy = {"bool": np.dtype(np.bool_), "bfloat16": np.dtype(ml_dtypes.bfloat16)}.get(name)
    numpy = np.dtype(name) if numpy is None else numpy
    return Dtype(name, numpy, numpy.itemsize, is_floating)


# One entry per dtype, in PG_ALL_DTYPES order; the kernel families instantiate over the
# matching lists (PG_FLOAT_DTYPES, PG_INT_DTYPES, PG_HALF_DTYPES).
TABLE: tuple[Dtype, ...] = (
    _dtype("float32", True),
    _dtype("float64", True),
    _dtype("int64", False),
    _dtype("bool", False),
    _dtype("int8", False),
    _dtype("int16", False),
    _dtype("int32", False),
    _dtype("uint8", False),
    _dtype("float16", True),
    _dtype("bfloat16", True),
)

BY_NAME = {d.name: d for d in TABLE}
CODE = {d.name: i for i, d in enumerate(TABLE)}
NAMES = tuple(d.name for d in TABLE)
# 16-bit floats: stored as 16 bits, computed in float32; GEMM, convolution and the fused
# kernels run on float32 copies of them (PG_HALF_DTYPES)
HALVES = ("float16", "bfloat16")
# floating dtypes with kernels of their own everywhere (PG_FLOAT_DTYPES)
FLOATS = tuple(d.name for d in TABLE if d.is_floating and d.name not in HALVES)
INTS = ("int64", "int8", "int16", "int32", "uint8")  # PG_INT_DTYPES
FROM_NUMPY = {d.numpy: d.name for d in TABLE}


def compute(name: str) -> str:
    """The dtype a dtype's elementwise arithmetic runs in (a scalar operand is passed in it)."""
    return "float32" if name in HALVES else name
