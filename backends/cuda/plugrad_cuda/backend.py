"""CudaBackend: the protocol (plugrad.backend.protocol.Backend) and the optional fused kernels,
on a GPU through the driver or on the CPU through the emulated runtime."""

from __future__ import annotations

from .base import BaseKernels
from .dlpack import DLPackMixin
from .fused import FusedKernelsMixin
from .indexing import IndexKernels
from .linalg import LinalgKernels
from .order import OrderKernels
from .reductions import ReductionKernels


class CudaBackend(
    DLPackMixin,
    FusedKernelsMixin,
    IndexKernels,
    LinalgKernels,
    OrderKernels,
    ReductionKernels,
    BaseKernels,
):
    """The CUDA implementation of `plugrad.backend.protocol.Backend`."""

    @property
    def note(self) -> str:
        """Shown by `plugrad backends`: "emulated on the CPU", or the GPU's name."""
        return self.runtime.description

    def __repr__(self) -> str:
        return f"CudaBackend({self.name!r}, {self.runtime.description})"
