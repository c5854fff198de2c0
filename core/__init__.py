"""plugrad: a backend-pluggable array, autograd and neural-network library."""
from .backend import (
    BackendUnavailable,
    Device,
    device,
    get_default_device,
    memory_allocated,
    register_backend,
    set_default_device,
)

__version__ = "0.1.0"
