"""The GPU runtime: the driver API through cuda-bindings (never cuda.core, whose module APIs
hang without a driver).

One runtime per device: its primary context, one non-blocking stream every kernel and copy is
queued on, every kernel source loaded as a module when the runtime starts and every function
looked up then (lazy loading would take a lock at the first launch), a pinned staging buffer
for copies, and a synchronisation before any data reaches the host. Every driver call is
checked; a failed launch names the kernel and its geometry, and an asynchronous fault found at
the next synchronisation names the last kernel queued.

Code: CUBIN for the device's architecture when NVRTC targets it and the driver is at least as
new as NVRTC; otherwise PTX (for the newest architecture NVRTC has at or below the device's),
which the driver compiles when the module loads.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from . import nvrtc, probe, sources
from .launch import Geometry, LaunchError, Params

STAGING_BYTES = 8 << 20
_local = threading.local()


def _driver():
    from cuda.bindings import driver

    return driver


def _error_text(driver, err) -> str:
    try:
        _, name = driver.cuGetErrorName(err)
        _, text = driver.cuGetErrorString(err)
        return f"{name.decode()}: {text.decode()}"
    except Exception:  # the error is worth more than its description
        return repr(err)


class GpuRuntime:
    """The runtime layer of `CudaBackend` on one GPU (see the module docstring)."""

    emulated = False
    grid_stride_blocks = 1 << 20  # blocks of a grid-stride launch: enough to fill any GPU

    def __init__(self, index: int) -> None:
        found = probe.probe_driver()
        if not found.ok:
            raise RuntimeError(found.reason)
        self._d = d = _driver()
        self.index = index
        self._lock = threading.Lock()
        self._device = self._call(d.cuDeviceGet, index, what="cuDeviceGet")
        self._context = self._call(d.cuDevicePrimaryCtxRetain, self._device,
                                   what="cuDevicePrimaryCtxRetain")  # fmt: skip
        self._enter()
        attr = d.CUdevice_attribute
        major = self._call(d.cuDeviceGetAttribute,
                           attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, self._device,
                           what="cuDeviceGetAttribute")  # fmt: skip
        minor = self._call(d.cuDeviceGetAttribute,
                           attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, self._device,
                           what="cuDeviceGetAttribute")  # fmt: skip
        self.arch = int(major) * 10 + int(minor)
        name = self._call(d.cuDeviceGetName, 256, self._device, what="cuDeviceGetName")
        self.device_name = bytes(name).split(b"\x00", 1)[0].decode(errors="replace")
        self.driver_version = found.driver_version
        self._stream = self._call(d.cuStreamCreate, d.CUstream_flags.CU_STREAM_NON_BLOCKING.value,
                                  what="cuStreamCreate")  # fmt: skip
        self.code_kind, self.code_arch = self._code_target()
        self._modules = []
        self._functions: dict[str, object] = {}
        for source in sources.FAMILIES:
            image = nvrtc.compile_source(source, self.code_arch, self.code_kind,
                                         driver=str(self.driver_version))  # fmt: skip
            try:
                module = self._call(d.cuModuleLoadData, image, what=f"loading {source}")
            except RuntimeError as error:
                if self.code_kind != "ptx":
                    raise
                raise RuntimeError(
                    f"{error}; the driver ({self.driver_version}) is older than NVRTC "
                    f"{'.'.join(map(str, nvrtc.version()))} and may not read its PTX: install "
                    "the plugrad-cuda extra that matches the driver (cu12 for CUDA 12 drivers)"
                ) from error
            self._modules.append(module)
            for kernel in sources.kernel_names(source):
                self._functions[kernel] = self._call(
                    d.cuModuleGetFunction, module, kernel.encode(), what=f"looking up {kernel}"
                )
        self._staging = self._call(d.cuMemHostAlloc, STAGING_BYTES, 0, what="cuMemHostAlloc")
        self._staging_view = np.ctypeslib.as_array(
            (ctypes.c_uint8 * STAGING_BYTES).from_address(int(self._staging))
        )
        self._staging_done = self._call(
            d.cuEventCreate, d.CUevent_flags.CU_EVENT_DISABLE_TIMING.value, what="cuEventCreate"
        )
        self._call(d.cuEventRecord, self._staging_done, self._stream, what="cuEventRecord")
        self._last_launch = "no kernel yet"
        version = f"{self.driver_version // 1000}.{self.driver_version % 1000 // 10}"
        self.description = f"{self.device_name}, sm_{self.arch}, driver {version}"

    # --- plumbing ------------------------------------------------------------------------
    def _call(self, function, *args, what: str):
        """Call a driver function, raise on any error, return its value (or values)."""
        result = function(*args)
        err, values = result[0], result[1:]
        if err != self._d.CUresult.CUDA_SUCCESS:
            if err == self._d.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
                raise MemoryError(f"cuda:{self.index} {what}: out of device memory")
            raise RuntimeError(f"cuda:{self.index} {what} failed: {_error_text(self._d, err)}")
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def _enter(self) -> None:
        """Make this device's context current on the calling thread (once per switch)."""
        if getattr(_local, "runtime", None) is not self:
            self._call(self._d.cuCtxSetCurrent, self._context, what="cuCtxSetCurrent")
            _local.runtime = self

    def _code_target(self) -> tuple[str, int]:
        major, minor = nvrtc.version()
        nvrtc_version = major * 1000 + minor * 10
        archs = nvrtc.supported_archs()
        if self.arch in archs and self.driver_version >= nvrtc_version:
            return "cubin", self.arch
        below = [a for a in archs if a <= self.arch]
        if not below:
            raise RuntimeError(
                f"NVRTC {major}.{minor} cannot target sm_{self.arch} (it supports "
                f"{', '.join(f'sm_{a}' for a in archs)}); install plugrad-cuda[cu12]"
            )
        return "ptx", max(below)

    # --- memory --------------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        self._enter()
        return int(self._call(self._d.cuMemAlloc, nbytes, what=f"cuMemAlloc({nbytes})"))

    def free(self, address: int) -> None:
        self._enter()
        self._call(self._d.cuMemFree, self._d.CUdeviceptr(address), what="cuMemFree")

    def upload(self, address: int, host: np.ndarray) -> None:
        """Queue a copy of the C-contiguous `host` to `address` through pinned staging."""
        self._enter()
        data = host.reshape(-1).view(np.uint8)
        d = self._d
        with self._lock:
            for start in range(0, data.size, STAGING_BYTES):
                chunk = data[start : start + STAGING_BYTES]
                # the previous copy out of the staging buffer must be done before refilling it
                self._call(d.cuEventSynchronize, self._staging_done, what="cuEventSynchronize")
                self._staging_view[: chunk.size] = chunk
                self._call(d.cuMemcpyHtoDAsync, d.CUdeviceptr(address + start),
                           int(self._staging), chunk.size, self._stream,
                           what="cuMemcpyHtoDAsync")  # fmt: skip
                self._call(d.cuEventRecord, self._staging_done, self._stream, what="cuEventRecord")

    def download(self, host: np.ndarray, address: int) -> None:
        """Copy device memory at `address` into the C-contiguous `host`, after every queued
        kernel has finished."""
        self._enter()
        data = host.reshape(-1).view(np.uint8)
        d = self._d
        with self._lock:
            for start in range(0, data.size, STAGING_BYTES):
                size = min(STAGING_BYTES, data.size - start)
                self._call(d.cuMemcpyDtoHAsync, int(self._staging),
                           d.CUdeviceptr(address + start), size, self._stream,
                           what="cuMemcpyDtoHAsync")  # fmt: skip
                self.synchronize()
                data[start : start + size] = self._staging_view[:size]
            self._call(d.cuEventRecord, self._staging_done, self._stream, what="cuEventRecord")

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        self._enter()
        d = self._d
        self._call(d.cuMemcpyDtoDAsync, d.CUdeviceptr(dst), d.CUdeviceptr(src), nbytes,
                   self._stream, what="cuMemcpyDtoDAsync")  # fmt: skip

    # --- kernels -------------------------------------------------------------------------
    def function(self, name: str):
        try:
            return self._functions[name]
        except KeyError:
            raise LaunchError(f"no kernel named {name} on cuda:{self.index}") from None

    def launch(self, name: str, function, geometry: Geometry, params: Params) -> None:
        self._enter()
        (gx, gy, gz), (bx, by, bz), shared = geometry
        (err,) = self._d.cuLaunchKernel(function, gx, gy, gz, bx, by, bz, shared, self._stream,
                                        params.address, 0)  # fmt: skip
        self._last_launch = f"{name} ({geometry.describe()})"
        if err != self._d.CUresult.CUDA_SUCCESS:
            raise LaunchError(
                f"kernel {name} ({geometry.describe()}) on cuda:{self.index}: "
                f"{_error_text(self._d, err)}"
            )

    def synchronize(self) -> None:
        self._enter()
        (err,) = self._d.cuStreamSynchronize(self._stream)
        if err != self._d.CUresult.CUDA_SUCCESS:
            raise LaunchError(
                f"cuda:{self.index}: a queued kernel failed ({_error_text(self._d, err)}); the "
                f"last one queued was {self._last_launch}"
            )

    # --- DLPack --------------------------------------------------------------------------
    @property
    def stream_handle(self) -> int:
        """The stream's handle as an integer (for consumers' DLPack stream arguments)."""
        return int(self._stream)
