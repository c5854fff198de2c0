"""What both runtimes share: kernel parameters packed as cuLaunchKernel takes them, launch
geometry, and the error a failed launch raises."""

from __future__ import annotations

import ctypes
from typing import NamedTuple


class LaunchError(RuntimeError):
    """A kernel launch failed; the message names the kernel and its geometry."""


class Geometry(NamedTuple):
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared: int = 0

    def describe(self) -> str:
        return f"grid {self.grid} block {self.block} shared {self.shared} B"


class Params:
    """Kernel parameters as a `void *[]` of pointers to each value (cuLaunchKernel's
    kernelParams). The values are ctypes objects kept alive with the array."""

    __slots__ = ("values", "array", "address")

    def __init__(self, values: tuple) -> None:
        self.values = values
        self.array = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.addressof(v) for v in values])
        self.address = ctypes.addressof(self.array)


def ptr(address: int) -> ctypes.c_uint64:
    """A device pointer parameter."""
    return ctypes.c_uint64(address)


def i64(value: int) -> ctypes.c_int64:
    return ctypes.c_int64(value)


def u64(value: int) -> ctypes.c_uint64:
    return ctypes.c_uint64(value)


def f64(value: float) -> ctypes.c_double:
    return ctypes.c_double(value)
