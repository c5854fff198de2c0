"""`plugrad.autocast`: mixed precision regions, as torch.autocast.

    with plugrad.autocast("cpu"):              # bfloat16 on host backends
        loss = F.cross_entropy(model(x), y)     # linear in bfloat16, the loss in float32
    loss.backward()                             # parameters' .grad in float32

Device types: "cpu" covers every host backend (numpy_ref, c_cpu, ...), as torch's CPU
autocast covers the host; a backend's device type ("numpy_ref", "c_cpu", "cuda", without an
index) covers that backend's devices only. Tensors on devices the region does not cover are
left alone. The default dtype is bfloat16 for host devices and float16 for the others
(torch's CPU and CUDA defaults); float16 and bfloat16 are the dtypes allowed. Regions nest:
the innermost region covering a tensor's device decides, so `autocast(..., enabled=False)`
inside another turns it off there. The state is per thread. Which ops are cast: `policy`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .. import dtypes as dt
from ..backend.registry import available_devices, get_device
from . import state

ALLOWED_DTYPES = (dt.float16, dt.bfloat16)


def _device_types() -> dict[str, bool]:
    """Each accepted device type and whether it is a host type."""
    types = {"cpu": True}
    for name in available_devices():
        device = get_device(name)
        types[device.type] = device.is_host
    return types


def _checked_type(device_type: object) -> str:
    if not isinstance(device_type, str):
        raise TypeError(
            f"autocast: device_type must be a string such as 'cpu' or 'cuda', got "
            f"{type(device_type).__name__} (pass a device's .type)"
        )
    types = _device_types()
    if device_type not in types:
        hint = " (a device type has no ':index')" if ":" in device_type else ""
        raise ValueError(
            f"autocast: unknown device type {device_type!r}{hint}; choose one of "
            f"{', '.join(sorted(types))}"
        )
    return device_type


def _default_dtype(device_type: str) -> dt.DType:
    return dt.bfloat16 if _device_types()[device_type] else dt.float16


class autocast:  # noqa: N801 - torch's name
    """Context manager and decorator: run the ops of `policy` in `dtype` (float16 or bfloat16;
    None: bfloat16 on host device types, float16 on the others) on `device_type`'s devices.
    enabled=False makes a region that turns autocast off; cache_enabled reuses each
    parameter's cast within the outermost region."""

    def __init__(
        self,
        device_type: str,
        dtype: object = None,
        enabled: bool = True,
        cache_enabled: bool = True,
    ) -> None:
        self.device_type = _checked_type(device_type)
        if dtype is None:
            self.fast_dtype = _default_dtype(self.device_type)
        else:
            try:
                self.fast_dtype = dt.as_dtype(dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"autocast: unknown dtype {dtype!r}") from error
            if self.fast_dtype not in ALLOWED_DTYPES:
                raise ValueError(
                    f"autocast runs ops in a lower-precision dtype: "
                    f"{' or '.join(d.name for d in ALLOWED_DTYPES)}, got {self.fast_dtype.name}"
                )
        for name, value in (("enabled", enabled), ("cache_enabled", cache_enabled)):
            if not isinstance(value, bool):
                raise TypeError(f"autocast: {name} must be a bool, got {type(value).__name__}")
        self._enabled, self._cache_enabled = enabled, cache_enabled

    def __enter__(self) -> autocast:
        state.push(
            state.Region(self.device_type, self.fast_dtype, self._enabled, self._cache_enabled)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        state.pop()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper

    def __repr__(self) -> str:
        return (
            f"autocast({self.device_type!r}, dtype={self.fast_dtype.name}, "
            f"enabled={self._enabled}, cache_enabled={self._cache_enabled})"
        )


def _covers(region: state.Region, device_type: str, host: bool) -> bool:
    return region.device_type == device_type or (region.device_type == "cpu" and host)


def _innermost(device_type: str) -> state.Region | None:
    host = _device_types()[device_type]
    for region in reversed(state.local.regions):
        if _covers(region, device_type, host):
            return region
    return None


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on in this thread for `device_type`'s devices; without one,
    whether it is on for any device type."""
    if device_type is None:
        return any(is_autocast_enabled(r.device_type) for r in state.local.regions)
    region = _innermost(_checked_type(device_type))
    return region is not None and region.enabled


def get_autocast_dtype(device_type: str) -> dt.DType:
    """The dtype autocast uses for `device_type` here: the innermost region's, else the
    default (bfloat16 for host device types, float16 for the others)."""
    region = _innermost(_checked_type(device_type))
    return region.dtype if region is not None else _default_dtype(device_type)


def _covers_device(device_type: str, device: Any) -> bool:
    """Whether `device_type` ("cpu" or a device's type) names `device` (a plugrad Device)."""
    return device_type == device.type or (device_type == "cpu" and device.is_host)
