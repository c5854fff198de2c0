"""Creation functions of the Array API, with the standard's argument names."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes as dt
from .. import factory
from ..autograd.tensor import Tensor
from ..backend.registry import get_device
from ..ndarray import NDArray
from ._dtypes import DEFAULT_FLOAT


def _device(device: Any) -> Any:
    return get_device(device)


def _default_dtype(value: Any) -> dt.DType:
    """The dtype of a Python scalar: bool, int64, or the namespace's float64."""
    if isinstance(value, builtins.bool):
        return dt.bool_
    if isinstance(value, int):
        return dt.int64
    return DEFAULT_FLOAT


def asarray(
    obj: Any, /, *, dtype: Any = None, device: Any = None, copy: builtins.bool | None = None
) -> Tensor:
    """An array from a Tensor, a NumPy array, a Python scalar or nested sequence, or anything
    NumPy converts (buffer protocol, DLPack). `copy=False` refuses to copy (ValueError when it
    must), `copy=True` always copies, None copies only when needed. Python floats become
    float64 (the namespace's default), as in NumPy."""
    want = dt.as_dtype(dtype) if dtype is not None else None
    if isinstance(obj, Tensor):
        target = get_device(device) if device is not None else obj.device
        same = (want is None or want is obj.dtype) and target is obj.device
        if same:
            return obj.detach().clone() if copy else obj
        if copy is False:
            raise ValueError(
                f"asarray(copy=False): converting a {obj.dtype.name} array on {obj.device} to "
                f"{(want or obj.dtype).name} on {target} needs a copy"
            )
        return obj.detach().to(target, want or obj.dtype)
    if isinstance(obj, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(obj)):
        obj = [asarray(x).detach().numpy() if isinstance(x, Tensor) else x for x in obj]
    target = _device(device)
    if isinstance(obj, (builtins.bool, int, float)) or (
        isinstance(obj, (list, tuple)) and want is None
    ):
        host = dt.host_array(obj)
        if want is None:
            if host.dtype.kind == "f":
                want = DEFAULT_FLOAT
            elif host.dtype.kind in "iu":
                want = dt.int64
            elif host.dtype.kind == "b" or host.size == 0:
                want = dt.bool_ if host.dtype.kind == "b" else DEFAULT_FLOAT
        if copy is False:
            raise ValueError("asarray(copy=False) of Python data: it must be copied")
        return Tensor._wrap(NDArray.from_numpy(host, target, want))
    host = np.asarray(obj) if copy is not True else np.array(obj, copy=True)
    if host.dtype.kind not in "biuf":
        raise TypeError(f"asarray: cannot make an array of NumPy dtype {host.dtype}")
    if want is None:
        want = dt.from_numpy_dtype(host.dtype)
    if copy is False:
        if not (target.is_host and host.dtype == want.numpy and host.dtype.kind != "b"):
            raise ValueError(
                f"asarray(copy=False): a NumPy {host.dtype} array cannot be shared as "
                f"{want.name} on {target} without a copy"
            )
        return Tensor._wrap(NDArray.share_numpy(host, target))
    return Tensor._wrap(NDArray.from_numpy(host, target, want))


def _flat(data: Any) -> Any:
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _shape(shape: Any) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def arange(
    start: int | float, /, stop: int | float | None = None, step: int | float = 1, *,
    dtype: Any = None, device: Any = None,
) -> Tensor:  # fmt: skip
    if dtype is None and not all(isinstance(v, int) for v in (start, stop or 0, step)):
        dtype = DEFAULT_FLOAT
    return factory.arange(start, stop, step, dtype=dtype, device=_device(device))


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.empty(_shape(shape), dtype=dtype or DEFAULT_FLOAT, device=_device(device))


def empty_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.empty(x.shape, dtype=dtype or x.dtype, device=device or x.device)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.zeros(_shape(shape), dtype=dtype or DEFAULT_FLOAT, device=_device(device))


def zeros_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.zeros(x.shape, dtype=dtype or x.dtype, device=device or x.device)


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.ones(_shape(shape), dtype=dtype or DEFAULT_FLOAT, device=_device(device))


def ones_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return factory.ones(x.shape, dtype=dtype or x.dtype, device=device or x.device)


def full(
    shape: Any, fill_value: builtins.bool | int | float, *, dtype: Any = None, device: Any = None
) -> Tensor:
    dtype = dtype or _default_dtype(fill_value)
    return factory.full(_shape(shape), fill_value, dtype=dtype, device=_device(device))


def full_like(
    x: Tensor, /, fill_value: builtins.bool | int | float, *, dtype: Any = None,
    device: Any = None,
) -> Tensor:  # fmt: skip
    return factory.full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device)


def eye(
    n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
    device: Any = None,
) -> Tensor:  # fmt: skip
    host = np.eye(n_rows, n_cols, k=k)
    dtype = dt.as_dtype(dtype) if dtype is not None else DEFAULT_FLOAT
    return Tensor._wrap(NDArray.from_numpy(host, _device(device), dtype))


def linspace(
    start: int | float, stop: int | float, /, num: int, *, dtype: Any = None,
    device: Any = None, endpoint: builtins.bool = True,
) -> Tensor:  # fmt: skip
    host = np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float64)
    dtype = dt.as_dtype(dtype) if dtype is not None else DEFAULT_FLOAT
    return Tensor._wrap(NDArray.from_numpy(host, _device(device), dtype))


def from_dlpack(x: Any, /, *, device: Any = None, copy: builtins.bool | None = None) -> Tensor:
    out = factory.from_dlpack(x)
    if device is not None and get_device(device) is not out.device:
        if copy is False:
            raise ValueError("from_dlpack(copy=False) to another device needs a copy")
        return out.to(get_device(device))
    return out.clone() if copy else out


def meshgrid(*arrays: Tensor, indexing: str = "xy") -> list[Tensor]:
    from .. import api

    return list(api.FUNCTIONS["meshgrid"](*arrays, indexing=indexing))


def tril(x: Tensor, /, *, k: int = 0) -> Tensor:
    return x.tril(k)


def triu(x: Tensor, /, *, k: int = 0) -> Tensor:
    return x.triu(k)


__all__: Sequence[str] = (
    "arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
)  # fmt: skip
