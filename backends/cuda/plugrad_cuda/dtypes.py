"""The dtypes the CUDA backend stores, in the order of the kernels' dtype table
(kernels/pg_common.cuh, `PG_ALL_DTYPES`): a dtype's position is its code in the kernels."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Dtype(NamedTuple):
    name: str
    numpy: np.dtype
    itemsize: int
    is_floating: bool


def _dtype(name: str, is_floating: bool) -> Dtype:
    numpy = np.dtype(name if name != "bool" else np.bool_)
    return Dtype(name, numpy, numpy.itemsize, is_floating)


# One entry per dtype, in PG_ALL_DTYPES order; the kernel families instantiate over the
# matching lists (PG_FLOAT_DTYPES, PG_NUMERIC_DTYPES).
TABLE: tuple[Dtype, ...] = (
    _dtype("float32", True),
    _dtype("float64", True),
    _dtype("int64", False),
    _dtype("bool", False),
)

BY_NAME = {d.name: d for d in TABLE}
CODE = {d.name: i for i, d in enumerate(TABLE)}
NAMES = tuple(d.name for d in TABLE)
FLOATS = tuple(d.name for d in TABLE if d.is_floating)
NUMERIC = tuple(d.name for d in TABLE if d.name != "bool")
FROM_NUMPY = {d.numpy: d.name for d in TABLE}
