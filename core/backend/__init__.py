"""Backends: the protocol, the shared argument checks, plugin discovery and the registry."""

from . import validation
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
    "validation",
]
