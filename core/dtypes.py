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


class IntegerOverflowError(OverflowError, ValueError):
    """A value that does not fit the integer dtype it is stored in (torch raises ValueError
    "Overflow when unpacking long long", Python and NumPy OverflowError: this is both)."""


def integer_range(name: str) -> tuple[int, int] | None:
    """[min, max] of an integer dtype's values; None for floating dtypes and bool."""
    dtype = ALL[name].numpy
    if dtype.kind not in "iu":
        return None
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def canonical_bools(array: np.ndarray) -> np.ndarray:
    """`array` (NumPy bool) itself when every byte is 0 or 1, else a copy with every non-zero
    byte as True: a bool byte of 2 (from `uint8_array.view(bool)` or a file) is True, and
    kernels that compare bytes must never see it."""
    if array.size == 0 or not (array.view(np.uint8) > 1).any():
        return array
    return np.not_equal(array.view(np.uint8), 0)


def _overflow(value: object, dtype: DType, source: str) -> IntegerOverflowError:
    low, high = integer_range(dtype.name)  # type: ignore[misc]
    return IntegerOverflowError(
        f"value {value} ({source}) does not fit {dtype.name} [{low}, {high}]: integer overflow; "
        "plugrad has no uint64 or wider integer dtype (pass dtype=plugrad.float64 to store it "
        "as a float)"
    )


def host_array(data: object) -> np.ndarray:
    """`np.asarray(data)`, refusing Python integers that no plugrad integer dtype holds (NumPy
    would make them object or uint64 arrays, which later wrap)."""
    host = np.asarray(data)
    if host.dtype == object:
        for value in host.flat:
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise _overflow(value, int64, "a Python int")
    return host


def to_host(array: np.ndarray, dtype: DType) -> np.ndarray:
    """`array` as a C-ordered NumPy array of `dtype` (0-d kept), refusing values an integer
    `dtype` cannot hold instead of wrapping them, with canonical bools (see canonical_bools)."""
    source = array.dtype
    limits = integer_range(dtype.name)
    if limits is not None and array.size and source != dtype.numpy:
        if source.kind in "iu" and not (
            np.iinfo(source).min >= limits[0] and np.iinfo(source).max <= limits[1]
        ):
            low, high = array.min(), array.max()
            if low < limits[0] or high > limits[1]:
                raise _overflow(high if high > limits[1] else low, dtype, f"{source} data")
        elif source.kind == "f":
            bad = ~np.isfinite(array) | (array < limits[0]) | (array >= float(limits[1]) + 1)
            if bad.any():
                raise _overflow(array[bad].flat[0], dtype, f"{source} data")
        elif source.kind == "O":
            big = [v for v in array.flat if isinstance(v, int) and not limits[0] <= v <= limits[1]]
            if big:
                raise _overflow(big[0], dtype, "a Python int")
    host = np.asarray(array, dtype=dtype.numpy, order="C")
    return canonical_bools(host) if dtype is bool_ else host


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
