"""plugrad's dtypes, their names and aliases, torch's promotion rules, and the NumPy dtypes
that hold them (bfloat16 is `ml_dtypes.bfloat16`, the NumPy bfloat16 JAX and others use).

Promotion (torch's, tested against torch over every pair in tests/core/test_dtypes_torch.py):

- Two dtypes (`promote`): bool < integers < floating points by category; within integers the
  smallest signed type holding both (uint8 with int8 is int16); float16 with bfloat16 is
  float32; otherwise the wider type.
- Operands of three priorities (`result_type`): dimensioned tensors, 0-d tensors, Python
  numbers. A lower priority changes the result only when it is of a higher category: an int8
  tensor plus a 0-d int64 tensor or a Python int stays int8; a float16 tensor plus a 0-d float64
  stays float16; an int32 tensor plus a 0-d float64 tensor is float64, plus a Python float
  float32 (the default dtype); a bool tensor plus a Python int is int64.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_dtypes
import numpy as np

_BOOL, _INTEGER, _FLOATING = 0, 1, 2  # promotion categories


class DType:
    """A dtype such as `plugrad.float32`. Compares equal to its name."""

    __slots__ = ("name", "numpy", "itemsize", "is_floating", "is_signed", "category", "bits")

    def __init__(self, name: str, numpy_dtype: object, category: int, signed: bool) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.itemsize = self.numpy.itemsize
        self.bits = 8 * self.itemsize
        self.category = category
        self.is_floating = category == _FLOATING
        self.is_signed = signed

    @property
    def is_floating_point(self) -> bool:
        """torch's spelling of `is_floating`."""
        return self.is_floating

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


bool_ = DType("bool", np.bool_, _BOOL, False)
uint8 = DType("uint8", np.uint8, _INTEGER, False)
int8 = DType("int8", np.int8, _INTEGER, True)
int16 = DType("int16", np.int16, _INTEGER, True)
int32 = DType("int32", np.int32, _INTEGER, True)
int64 = DType("int64", np.int64, _INTEGER, True)
float16 = DType("float16", np.float16, _FLOATING, True)
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, _FLOATING, True)
float32 = DType("float32", np.float32, _FLOATING, True)
float64 = DType("float64", np.float64, _FLOATING, True)

ALL: dict[str, DType] = {
    d.name: d
    for d in (float32, float64, int64, bool_, int8, int16, int32, uint8, float16, bfloat16)
}
FLOATING = tuple(d for d in ALL.values() if d.is_floating)
INTEGER = tuple(d for d in ALL.values() if d.category == _INTEGER)
# torch's names (torch.int is int32, torch.half float16); Python's int is int64 as in torch.
ALIASES = {
    "float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
    "short": int16, "char": int8, "byte": uint8, "bool_": bool_,
}  # fmt: skip
_BY_NUMPY = {d.numpy: d for d in ALL.values()}


def as_dtype(dtype: object) -> DType:
    """Accept a DType, its name or torch alias ("half", "long"), a NumPy dtype (bfloat16:
    ml_dtypes.bfloat16), or Python's float/int/bool."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        found = ALL.get(dtype) or ALIASES.get(dtype)
        if found is not None:
            return found
    else:
        try:
            found = _BY_NUMPY.get(np.dtype(dtype))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            found = None
        if found is not None:
            return found
    raise TypeError(
        f"unsupported dtype {dtype!r}: plugrad supports {', '.join(ALL)} "
        "(convert with .astype() first)"
    )


def from_numpy_dtype(np_dtype: np.dtype) -> DType:
    """The plugrad dtype of a NumPy dtype, without widening (uint8 stays uint8)."""
    np_dtype = np.dtype(np_dtype)
    found = _BY_NUMPY.get(np_dtype.newbyteorder("="))
    if found is None and np_dtype.kind in "iu":
        found = int64  # uint16/32/64: int64, values past its range refused (to_host)
    if found is None:
        raise TypeError(
            f"cannot make a plugrad array from NumPy dtype {np_dtype}: supported are "
            f"{', '.join(ALL)} (convert with array.astype(...) first)"
        )
    return found


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
        elif source.kind == "f" or source == bfloat16.numpy:
            array = array.astype(np.float32) if source == bfloat16.numpy else array
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
    """Result dtype of a binary op between two dimensioned arrays (torch's promote_types)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == _FLOATING:
        if {a.name, b.name} == {"float16", "bfloat16"}:
            return float32
        return a if a.itemsize > b.itemsize else b
    if a.is_signed == b.is_signed:
        return a if a.itemsize > b.itemsize else b
    signed, unsigned = (a, b) if a.is_signed else (b, a)
    if signed.itemsize > unsigned.itemsize:
        return signed
    return {1: int16, 2: int32, 4: int64}.get(unsigned.itemsize, int64)


def scalar_dtype(value: object) -> DType:
    """The dtype a Python number takes part in promotion as (float: the default, float32)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return float32
    raise TypeError(f"expected a Python number, got {type(value).__name__}")


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    """torch's combine_categories: a lower-priority operand counts only if of a higher
    category than the higher-priority result (or that result is bool)."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating:
        return higher
    if higher is bool_ or lower.is_floating:
        return promote(higher, lower)
    return higher


def result_type(
    tensors: tuple[DType, ...] = (), zero_dim: tuple[DType, ...] = (), scalars: tuple = ()
) -> DType:
    """torch.result_type over dimensioned tensors' dtypes, 0-d tensors' dtypes and Python
    numbers (see the module docstring)."""
    tiers = []
    for group in (tensors, zero_dim, tuple(scalar_dtype(s) for s in scalars)):
        found = None
        for d in group:
            found = d if found is None else promote(found, d)
        tiers.append(found)
    out = _combine(tiers[0], _combine(tiers[1], tiers[2]))
    if out is None:
        raise ValueError("result_type needs at least one operand")
    return out


def promote_arrays(a: DType, a_zero_dim: bool, b: DType, b_zero_dim: bool) -> DType:
    """Result dtype of a binary op between two arrays, 0-d ones ranking as torch's."""
    if a_zero_dim == b_zero_dim:
        return promote(a, b)
    dim, zero = (b, a) if a_zero_dim else (a, b)
    return result_type((dim,), (zero,))


def promote_scalar(a: DType, value: object) -> DType:
    """Result dtype of an op between an array and a Python scalar: floats lift ints to float32,
    ints lift bool to int64, otherwise the array's dtype."""
    return _combine(a, scalar_dtype(value))  # type: ignore[return-value]


class FInfo(NamedTuple):
    """What plugrad.finfo returns (the fields of torch.finfo)."""

    bits: int
    eps: float
    max: float
    min: float
    tiny: float
    smallest_normal: float
    resolution: float
    dtype: str


class IInfo(NamedTuple):
    """What plugrad.iinfo returns (the fields of torch.iinfo)."""

    bits: int
    min: int
    max: int
    dtype: str


def finfo(dtype: object = None) -> FInfo:
    """Limits of a floating dtype (default float32): `plugrad.finfo(plugrad.bfloat16).eps`."""
    d = float32 if dtype is None else as_dtype(dtype)
    if not d.is_floating:
        raise TypeError(f"finfo takes a floating dtype, not {d.name} (use plugrad.iinfo)")
    info = ml_dtypes.finfo(d.numpy)
    return FInfo(d.bits, float(info.eps), float(info.max), float(info.min), float(info.tiny),
                 float(info.smallest_normal), 10.0 ** -int(info.precision), d.name)  # fmt: skip


def iinfo(dtype: object) -> IInfo:
    """Limits of an integer dtype: `plugrad.iinfo(plugrad.int8).max`."""
    d = as_dtype(dtype)
    if d.category != _INTEGER:
        raise TypeError(f"iinfo takes an integer dtype, not {d.name} (use plugrad.finfo)")
    info = np.iinfo(d.numpy)
    return IInfo(d.bits, int(info.min), int(info.max), d.name)
