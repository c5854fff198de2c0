"""Factory functions: tensor, zeros, ones, full, arange, linspace, eye, rand, randn, randint,
the *_like variants, and NumPy / DLPack interop. Each takes dtype and device."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import dtypes as dt
from .autograd.tensor import Tensor
from .backend.registry import get_device, iter_devices
from .ndarray import NDArray
from .random import Generator, default_generator
from .shapes import normalize_shape


def _dtype(dtype: object, default: dt.DType = dt.float32) -> dt.DType:
    return default if dtype is None else dt.as_dtype(dtype)


def _finish(array: NDArray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(
    data: Any, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, NumPy, a Tensor)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: object = None, device: object = None) -> Tensor:
    """Like tensor(), but returns `data` itself when it already matches."""
    if (
        isinstance(data, Tensor)
        and (dtype is None or data.dtype == dt.as_dtype(dtype))
        and (device is None or data.device is get_device(device))
    ):
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray, device: object = None) -> Tensor:
    """A tensor sharing `array`'s memory on a host device (any strides); a copy elsewhere."""
    target = get_device(device)
    if target.backend.is_host:
        return Tensor._wrap(NDArray.share_numpy(array, target))
    return Tensor(array, device=target)


def from_dlpack(obj: Any, device: object = None) -> Tensor:
    """Import a DLPack-capable array without copying: host memory (NumPy, torch CPU, ...) onto
    a host device, device memory (a torch or CuPy CUDA tensor) onto the backend whose
    `dlpack_device()` names that device. `device`, when given and different, gets a copy."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"{type(obj).__name__} does not implement __dlpack__")
    kind, index = obj.__dlpack_device__() if hasattr(obj, "__dlpack_device__") else (1, 0)
    if kind == 1:  # kDLCPU
        return from_numpy(np.from_dlpack(obj), device)
    for candidate in iter_devices():
        importer = getattr(candidate.backend, "from_dlpack", None)
        owns = getattr(candidate.backend, "dlpack_device", None)
        if importer is not None and owns is not None and tuple(owns()) == (kind, index):
            buffer, shape, strides, offset, dtype = importer(obj)
            array = NDArray(candidate, buffer, shape, strides, offset, dt.as_dtype(dtype))
            tensor = Tensor._wrap(array)
            return tensor if device is None else tensor.to(device)
    raise BufferError(
        f"no installed device takes DLPack memory of device type {kind} index {index} "
        "(run `plugrad backends`)"
    )


def empty(
    *shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    array = NDArray.empty(normalize_shape(shape), _dtype(dtype), get_device(device))
    return _finish(array, requires_grad)


def full(
    shape: Any, fill_value: float | int | bool, dtype: object = None, device: object = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    if dtype is None:
        dtype = (
            dt.promote_scalar(dt.bool_, fill_value)
            if not isinstance(fill_value, bool)
            else dt.bool_
        )
    shape = normalize_shape((shape,) if isinstance(shape, int) else shape)
    return _finish(
        NDArray.full(shape, fill_value, _dtype(dtype), get_device(device)), requires_grad
    )


def zeros(
    *shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return full(normalize_shape(shape), 0, _dtype(dtype), device, requires_grad)


def ones(
    *shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return full(normalize_shape(shape), 1, _dtype(dtype), device, requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype: object = None,
    device: object = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange step must be non-zero")
    integral = all(isinstance(v, int) for v in (start, end, step))
    dtype = _dtype(dtype, dt.int64 if integral else dt.float32)
    host = np.arange(start, end, step, dtype=np.float64 if not integral else np.int64)
    return _finish(NDArray.from_numpy(host, get_device(device), dtype), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: object = None, device: object = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    if steps < 0:
        raise ValueError(f"linspace needs a non-negative number of steps, got {steps}")
    host = np.linspace(start, end, steps, dtype=np.float64)
    return _finish(NDArray.from_numpy(host, get_device(device), _dtype(dtype)), requires_grad)


def eye(
    n: int, m: int | None = None, dtype: object = None, device: object = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    host = np.eye(n, n if m is None else m)
    return _finish(NDArray.from_numpy(host, get_device(device), _dtype(dtype)), requires_grad)


def _random(kind: str, shape: tuple[int, ...], dtype: object, device: object,
            generator: Generator | None, *params: float) -> NDArray:  # fmt: skip
    dtype = _dtype(dtype)
    out = NDArray.empty(shape, dtype, get_device(device))
    seed = (generator or default_generator).next_seed()
    kernel = getattr(out.backend, f"random_{kind}")
    kernel(out.strided(), *params, seed)
    return out


def rand(*shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False,
         generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Uniform on [0, 1)."""
    array = _random("uniform", normalize_shape(shape), dtype, device, generator, 0.0, 1.0)
    return _finish(array, requires_grad)


def randn(*shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False,
          generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Standard normal."""
    array = _random("normal", normalize_shape(shape), dtype, device, generator, 0.0, 1.0)
    return _finish(array, requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: object = None,
            device: object = None, generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Integers uniform on [low, high)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint needs low < high, got {low} and {high}")
    shape = normalize_shape((size,) if isinstance(size, int) else size)
    uniform = _random("uniform", shape, dt.float64, device, generator, 0.0, 1.0)
    scaled = uniform.scalar_op("mul", float(high - low)).unary("floor").scalar_op("add", float(low))
    scaled = scaled.scalar_op("minimum", float(high - 1))
    return Tensor._wrap(scaled.astype(_dtype(dtype, dt.int64)))


def randperm(n: int, device: object = None, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64), drawn on the host."""
    host = (generator or default_generator).numpy().permutation(n).astype(np.int64)
    return Tensor._wrap(NDArray.from_numpy(host, get_device(device)))


def bernoulli(p: Tensor | float, shape: Any = None, dtype: object = None, device: object = None,
              generator: Generator | None = None) -> Tensor:  # fmt: skip
    """0/1 draws: with a float p, of `shape`; with a tensor p, elementwise."""
    if isinstance(p, Tensor):
        u = _random("uniform", p.shape, p.dtype, p.device, generator, 0.0, 1.0)
        return Tensor._wrap(u.binary("lt", p.array).astype(p.dtype))
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"bernoulli probability must lie in [0, 1], got {p}")
    shape = normalize_shape((shape,) if isinstance(shape, int) else shape or ())
    return Tensor._wrap(_random("bernoulli", shape, dtype, device, generator, float(p)))


def _like(fn: Any, t: Tensor, dtype: object, device: object, **kw: Any) -> Tensor:
    return fn(*t.shape, dtype=dtype or t.dtype, device=device or t.device, **kw)


def zeros_like(
    t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad=requires_grad)


def ones_like(
    t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad=requires_grad)


def empty_like(
    t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return _like(empty, t, dtype, device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: object = None, device: object = None,
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    return full(t.shape, fill_value, dtype or t.dtype, device or t.device, requires_grad)


def rand_like(
    t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return _like(rand, t, dtype, device, requires_grad=requires_grad)


def randn_like(
    t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False
) -> Tensor:
    return _like(randn, t, dtype, device, requires_grad=requires_grad)


def randint_like(t: Tensor, low: int, high: int | None = None, dtype: object = None,
                 device: object = None) -> Tensor:  # fmt: skip
    return randint(low, high, t.shape, dtype or t.dtype, device or t.device)
