"""The argument checks and named-tuple results shared by `plugrad.linalg`'s functions."""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import dtypes as dt
from ..autograd.tensor import Tensor

LINALG_DTYPES = (dt.float32, dt.float64)


class QR(NamedTuple):
    Q: Tensor
    R: Tensor


class SVD(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class LstsqResult(NamedTuple):
    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


def matrices(fn: str, a: Any, square: bool = False, name: str = "A") -> Tensor:
    """`a` when it is a float32/float64 tensor of (*, m, n) matrices (square ones if asked)."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(a).__name__}")
    if a.ndim < 2:
        raise ValueError(
            f"{fn}: the input tensor {name} must have at least 2 dimensions, got shape {a.shape}"
        )
    floating(fn, a, name)
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"{fn}: {name} must be batches of square matrices, but they are "
            f"{a.shape[-2]} by {a.shape[-1]} matrices"
        )
    return a


def floating(fn: str, a: Tensor, name: str = "A") -> None:
    if a.dtype in LINALG_DTYPES:
        return
    if a.dtype.is_floating:
        raise TypeError(
            f"{fn}: low precision dtypes are not supported, got {a.dtype.name}; cast {name} "
            "with .float() (or .double())"
        )
    raise TypeError(
        f"{fn}: expected a floating point tensor as {name}, got {a.dtype.name}; cast it with "
        ".float() (or .double())"
    )


def same_kind(fn: str, a: Tensor, b: Any, names: tuple[str, str] = ("A", "B")) -> Tensor:
    """b when it is a tensor of a's dtype on a's device."""
    if not isinstance(b, Tensor):
        raise TypeError(f"{fn}: {names[1]} must be a Tensor, got {type(b).__name__}")
    if b.dtype is not a.dtype:
        raise TypeError(
            f"{fn}: expected {names[0]} and {names[1]} to have the same dtype, but found "
            f"{names[0]} of type {a.dtype.name} and {names[1]} of type {b.dtype.name}; cast one"
        )
    if b.device is not a.device:
        raise RuntimeError(
            f"{fn}: {names[0]} is on {a.device.name} and {names[1]} on {b.device.name}; move "
            "one with .to(device) first"
        )
    return b


def is_vector_rhs(a: Tensor, b: Tensor) -> bool:
    """torch's rule: B is a (batch of) vector(s) when 1-D, or when its shape is A's less the
    last dimension."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


def epsilon(a: Tensor) -> float:
    import numpy as np

    return float(np.finfo(a.dtype.numpy).eps)
