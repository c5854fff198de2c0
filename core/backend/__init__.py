"""Backends: the protocol, plugin discovery and the device registry."""

from .hookspecs import hookimpl, hookspec
from .protocol import Backend, Strided
from .registry import (
    BackendUnavailable,
    Device,
    available_devices,
    backend_report,
    device,
    get_default_device,
    get_device,
    memory_allocated,
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
    "memory_allocated",
    "register_backend",
    "set_default_device",
    "unregister_backend",
]
