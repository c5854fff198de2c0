"""The four dtypes plugrad knows, their promotion order, and conversions to NumPy."""

from __future__ import annotations

import numpy as np


class DType:
    """A dtype: `plugrad.float32`, `float64`, `int64` or `bool`. Compares equal to its name."""

    __slots__ = ("name", "numpy", "itemsize", "is_floating", "rank")

    def __init__(self, name: str, numpy_dtype: type, rank: int) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.itemsize = self.numpy.itemsize
        self.is_floating = name.startswith("float")
        self.rank = rank  # promotion order: bool < int64 < float32 < float64

    def __repr__(self) -> str:
        return f"plugrad.{self.name}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (as_dtype, (self.name,))


bool_ = DType("bool", np.bool_, 0)
int64 = DType("int64", np.int64, 1)
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 3)

ALL: dict[str, DType] = {d.name: d for d in (float32, float64, int64, bool_)}
_ALIASES = {"float": float32, "double": float64, "long": int64, "int": int64}


def as_dtype(dtype: object) -> DType:
    """Accept a DType, its name, a NumPy dtype, or Python's float/int/bool."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        found = ALL.get(dtype) or _ALIASES.get(dtype)
        if found is not None:
            return found
    else:
        try:
            name = np.dtype(dtype).name  # type: ignore[arg-type]
        except TypeError:
            name = None
        if name in ALL:
            return ALL[name]
    raise TypeError(
        f"unsupported dtype {dtype!r}: plugrad supports {', '.join(ALL)} "
        "(convert with .astype() first)"
    )


def from_numpy_dtype(np_dtype: np.dtype) -> DType:
    """Map a NumPy dtype onto the plugrad dtype that holds it without loss where possible."""
    kind = np_dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64
    if kind == "f":
        return float64 if np_dtype.itemsize > 4 else float32
    raise TypeError(
        f"cannot make a plugrad array from NumPy dtype {np_dtype}: supported are {', '.join(ALL)}"
    )


def promote(a: DType, b: DType) -> DType:
    """Result dtype of a binary op between two arrays (torch rules on these four dtypes)."""
    return a if a.rank >= b.rank else b


def promote_scalar(a: DType, value: object) -> DType:
    """Result dtype of an op between an array and a Python scalar: floats lift ints to float32."""
    if isinstance(value, bool):
        return a
    if isinstance(value, int):
        return int64 if a is bool_ else a
    if isinstance(value, float):
        return a if a.is_floating else float32
    raise TypeError(f"expected a Python number, got {type(value).__name__}")
