"""plugrad's CUDA backend: kernels compiled by NVRTC and run through the driver (cuda-python),
or the same kernel sources run on the CPU by the emulated runtime (`PLUGRAD_CUDA=emulate`)."""

from __future__ import annotations

from plugrad.backend import BackendUnavailable, hookimpl

from . import probe
from .backend import CudaBackend

__all__ = ["CudaBackend", "make_backends", "plugrad_backends"]


def make_backends() -> list[CudaBackend]:
    """One backend per GPU (`cuda`, `cuda:1`, ...), or the emulated `cuda`, per PLUGRAD_CUDA."""
    try:
        mode = probe.mode()
    except ValueError as error:
        raise BackendUnavailable(str(error)) from None
    if mode == "emulate":
        from .emulated import EmulatedRuntime, EmulatorUnavailable

        try:
            return [CudaBackend(EmulatedRuntime())]
        except EmulatorUnavailable as error:
            raise BackendUnavailable(str(error)) from error
    found = probe.probe_driver()
    if not found.ok:
        raise BackendUnavailable(
            f"{found.reason}; set PLUGRAD_CUDA=emulate to run the CUDA kernels on the CPU"
        )
    from .gpu import GpuRuntime

    return [CudaBackend(GpuRuntime(i), i) for i in range(found.devices)]


@hookimpl
def plugrad_backends() -> list[CudaBackend]:
    return make_backends()
