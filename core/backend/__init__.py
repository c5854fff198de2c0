"""Backends: the protocol, the shared argument checks, plugin discovery and the registry."""

from . import validation
from .hookspecs import hookimpl, hookspec
from .memory import (
    empty_cache,
    max_memory_allocated,
    max_memory_reserved,
    memory_allocated,
    memory_reserved,
    memory_stats,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
)
from .protocol import Backend, Strided
from .registry import (
    BackendUnavailable,
    Device,
    available_devices,
    backend_report,
    device,
    get_default_device,
    get_device,
    register_backend,
    set_default_device,
    unregister_backend,
)

__all__ = [
    "Backend",
    "BackendUnavailable",
    "Device",
    "Strided",
    "available_devices",
    "backend_report",
    "device",
    "get_default_device",
    "get_device",
    "hookimpl",
    "hookspec",
    "empty_cache",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_accumulated_memory_stats",
    "reset_max_memory_allocated",
    "reset_peak_memory_stats",
    "register_backend",
    "set_default_device",
    "unregister_backend",
    "validation",
]
