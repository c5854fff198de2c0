"""Data types, the data-type functions and `__array_namespace_info__` of the namespace."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..backend.registry import get_default_device, iter_devices

bool = dt.bool_  # noqa: A001 - the standard's name
int8, int16, int32, int64, uint8 = dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8
float32 = dt.float32
float64 = dt.float64

DTYPES = {
    "bool": bool, "int8": int8, "int16": int16, "int32": int32, "int64": int64, "uint8": uint8,
    "float32": float32, "float64": float64,
}  # fmt: skip
"""The standard's dtypes plugrad has. uint16 to uint64 and the complex ones are absent; plugrad's
float16 and bfloat16 are outside the standard (plugrad's own functions take them)."""

DEFAULT_FLOAT = float64
"""The namespace's default floating dtype (NumPy's): plugrad's own default is float32."""

_KINDS = {
    "bool": lambda d: d is dt.bool_,
    "signed integer": lambda d: d in dt.INTEGER and d.is_signed,
    "unsigned integer": lambda d: d in dt.INTEGER and not d.is_signed,
    "integral": lambda d: d in dt.INTEGER,
    "real floating": lambda d: d.is_floating,
    "complex floating": lambda d: False,
    "numeric": lambda d: d is not dt.bool_,
}


def isdtype(dtype: Any, kind: Any) -> builtins.bool:
    """Whether `dtype` is of `kind`: a dtype, a kind name, or a tuple of them."""
    dtype = dt.as_dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; the kinds are {', '.join(_KINDS)}")
        return _KINDS[kind](dtype)
    return dt.as_dtype(kind) is dtype


def _dtype_of(x: Any) -> dt.DType:
    return x.dtype if isinstance(x, Tensor) else dt.as_dtype(x)


def result_type(*arrays_and_dtypes: Any) -> dt.DType:
    """The dtype the standard's promotion gives for arrays, dtypes and Python scalars."""
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one array or dtype")
    fixed = [x for x in arrays_and_dtypes if not isinstance(x, (builtins.bool, int, float))]
    scalars = [x for x in arrays_and_dtypes if isinstance(x, (builtins.bool, int, float))]
    if not fixed:
        raise ValueError("result_type needs at least one array or dtype, not only scalars")
    result = _dtype_of(fixed[0])
    for x in fixed[1:]:
        result = dt.promote(result, _dtype_of(x))
    for value in scalars:
        result = dt.promote_scalar(result, value)
    return result


_ORDER = {"bool": 0, "int": 1, "float": 2}


def can_cast(from_: Any, to: Any, /) -> builtins.bool:
    """Whether the standard's promotion rules allow casting `from_` to `to`: bool to any,
    within a kind where promotion gives `to` (int8 to int32, uint8 to int16, float32 to
    float64); never integer to floating or back."""
    a, b = _dtype_of(from_), dt.as_dtype(to)
    if a is b or a is dt.bool_:
        return True
    if b is dt.bool_ or a.is_floating != b.is_floating:
        return False
    return dt.promote(a, b) is b


@dataclass(frozen=True)
class finfo_object:  # noqa: N801 - the standard's name
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: dt.DType


@dataclass(frozen=True)
class iinfo_object:  # noqa: N801 - the standard's name
    bits: int
    max: int
    min: int
    dtype: dt.DType


def finfo(type: Any, /) -> finfo_object:  # noqa: A002 - the standard's name
    dtype = _dtype_of(type)
    if not dtype.is_floating:
        raise TypeError(f"finfo takes a floating dtype, got {dtype.name}")
    info = np.finfo(dtype.numpy)
    return finfo_object(info.bits, float(info.eps), float(info.max), float(info.min),
                        float(info.smallest_normal), dtype)  # fmt: skip


def iinfo(type: Any, /) -> iinfo_object:  # noqa: A002 - the standard's name
    dtype = _dtype_of(type)
    if dtype not in dt.INTEGER:
        raise TypeError(f"iinfo takes an integer dtype, got {dtype.name}")
    info = np.iinfo(dtype.numpy)
    return iinfo_object(info.bits, int(info.max), int(info.min), dtype)


class Info:
    """What `__array_namespace_info__()` returns: the namespace's capabilities, devices and
    dtypes."""

    __module__ = "plugrad.array_api"

    def capabilities(self) -> dict[str, Any]:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 32}

    def default_device(self) -> Any:
        return get_default_device()

    def devices(self) -> list[Any]:
        return list(iter_devices())

    def default_dtypes(self, *, device: Any = None) -> dict[str, dt.DType]:
        """float64, int64 and int64 for indexing. There is no complex dtype, so no
        "complex floating" entry."""
        return {"real floating": DEFAULT_FLOAT, "integral": int64, "indexing": int64}

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, dt.DType]:
        from ..backend.registry import get_device

        supported = get_device(device).backend.dtypes
        return {
            name: d
            for name, d in DTYPES.items()
            if name in supported and (kind is None or isdtype(d, kind))
        }


def __array_namespace_info__() -> Info:  # noqa: N807 - the standard's name
    return Info()
