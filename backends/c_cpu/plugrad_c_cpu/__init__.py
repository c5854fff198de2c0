"""plugrad's C CPU backend: C kernels through CFFI, OpenMP threads, run-time SIMD dispatch."""

from __future__ import annotations

from plugrad.backend import hookimpl

from .backend import CCpuBackend

__all__ = ["CCpuBackend", "plugrad_backends"]


@hookimpl
def plugrad_backends() -> list[CCpuBackend]:
    return [CCpuBackend()]
