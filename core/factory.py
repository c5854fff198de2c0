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
from .random import Generator, host_integers, host_permutation, resolve
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


def random_array(kind: str, shape: tuple[int, ...], dtype: dt.DType, device: object,
                 generator: Generator | None, *params: float) -> NDArray:  # fmt: skip
    """One call of the kernel `random_<kind>` (uniform(low, high), normal(mean, std),
    bernoulli(p); plugrad.random_stream) into a new array; nn.init draws through it."""
    out = NDArray.empty(shape, dtype, get_device(device))
    seed = resolve(generator).next_seed()
    getattr(out.backend, f"random_{kind}")(out.strided(), *params, seed)
    return out


def _floating(dtype: object, what: str) -> dt.DType:
    dtype = _dtype(dtype)
    if not dtype.is_floating:
        raise TypeError(f"{what} draws floating-point numbers; got dtype {dtype.name}")
    return dtype


def rand(*shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False,
         generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Uniform on [0, 1)."""
    dtype = _floating(dtype, "rand")
    array = random_array("uniform", normalize_shape(shape), dtype, device, generator, 0.0, 1.0)
    return _finish(array, requires_grad)


def randn(*shape: Any, dtype: object = None, device: object = None, requires_grad: bool = False,
          generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Standard normal."""
    dtype = _floating(dtype, "randn")
    array = random_array("normal", normalize_shape(shape), dtype, device, generator, 0.0, 1.0)
    return _finish(array, requires_grad)


def _integral(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    return int(value)


def randint(low: int, high: int | None = None, size: Any = (), dtype: object = None,
            device: object = None, generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Integers uniform on [low, high): `low + floor(w * (high - low) / 2**64)` from the
    stream's 64-bit words (plugrad.random_stream), drawn on the host."""
    if high is None:
        low, high = 0, low
    low, high = _integral(low, "randint low"), _integral(high, "randint high")
    if high <= low:
        raise ValueError(f"randint needs low < high, got {low} and {high}")
    if low < -(1 << 63) or high > (1 << 63) - 1:
        raise ValueError(f"randint bounds must fit int64, got [{low}, {high})")
    shape = normalize_shape((size,) if isinstance(size, int) else size)
    offsets = host_integers(shape, high - low, generator)
    values = (offsets + np.uint64(low % (1 << 64))).view(np.int64)  # wraps exactly into int64
    target = get_device(device)
    return Tensor._wrap(NDArray.from_numpy(values, target, _dtype(dtype, dt.int64)))


def randperm(n: int, device: object = None, generator: Generator | None = None,
             dtype: object = None) -> Tensor:  # fmt: skip
    """A random permutation of 0..n-1 (int64 unless `dtype`): the stable argsort of the
    stream's 64-bit words, drawn on the host."""
    host = host_permutation(_integral(n, "randperm n"), generator)
    return Tensor._wrap(NDArray.from_numpy(host, get_device(device), _dtype(dtype, dt.int64)))


def bernoulli(p: Tensor | float, shape: Any = None, dtype: object = None, device: object = None,
              generator: Generator | None = None) -> Tensor:  # fmt: skip
    """0/1 draws: with a float p, of `shape`; with a tensor p, elementwise (1 where the
    stream's float64 uniform is below p, as the kernel does with a scalar p)."""
    if isinstance(p, Tensor):
        u = random_array("uniform", p.shape, dt.float64, p.device, generator, 0.0, 1.0)
        return Tensor._wrap(u.binary("lt", p.array.astype(dt.float64)).astype(p.dtype))
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"bernoulli probability must lie in [0, 1], got {p}")
    shape = normalize_shape((shape,) if isinstance(shape, int) else shape or ())
    return Tensor._wrap(
        random_array("bernoulli", shape, _dtype(dtype), device, generator, float(p))
    )


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


def rand_like(t: Tensor, dtype: object = None, device: object = None, requires_grad: bool = False,
              generator: Generator | None = None) -> Tensor:  # fmt: skip
    return _like(rand, t, dtype, device, requires_grad=requires_grad, generator=generator)


def randn_like(t: Tensor, dtype: object = None, device: object = None,
               requires_grad: bool = False,
               generator: Generator | None = None) -> Tensor:  # fmt: skip
    return _like(randn, t, dtype, device, requires_grad=requires_grad, generator=generator)


def randint_like(t: Tensor, low: int, high: int | None = None, dtype: object = None,
                 device: object = None, generator: Generator | None = None) -> Tensor:  # fmt: skip
    return randint(low, high, t.shape, dtype or t.dtype, device or t.device, generator)
