"""The GPU runtime's own logic (contexts, the stream, staging copies in chunks, eager module
loading, checked calls, the code target) against a stand-in for cuda-bindings' driver module
whose memory is host memory and whose launches run on the emulator. The real driver is
exercised by `make gpu-check` on a machine with a GPU."""

from __future__ import annotations

import ctypes
import types

import numpy as np
import pytest

from plugrad.backend.protocol import Strided
from plugrad_cuda import gpu, probe
from plugrad_cuda.backend import CudaBackend
from plugrad_cuda.emulated import EmulatedRuntime
from plugrad_cuda.launch import LaunchError

nvrtc = pytest.importorskip("plugrad_cuda.nvrtc")


def _nvrtc_or_skip():
    try:
        nvrtc.version()
    except Exception as error:
        pytest.skip(f"NVRTC unavailable: {error}")


class Ptr(int):
    """CUdeviceptr / CUstream stand-in: an int with the bindings' constructor."""


class FakeDriver:
    """The slice of cuda.bindings.driver that GpuRuntime calls, on host memory."""

    SUCCESS, OUT_OF_MEMORY, LAUNCH_FAILED = 0, 2, 719

    def __init__(self, emulator: EmulatedRuntime, memory_limit: int = 1 << 40) -> None:
        self.emulator = emulator
        self.memory_limit = memory_limit
        self.in_use = 0
        self.calls: list[str] = []
        self.loaded: list[bytes] = []
        self.sizes: dict[int, int] = {}
        self.pinned = []
        self.CUresult = types.SimpleNamespace(
            CUDA_SUCCESS=self.SUCCESS, CUDA_ERROR_OUT_OF_MEMORY=self.OUT_OF_MEMORY
        )
        self.CUdevice_attribute = types.SimpleNamespace(
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR="major",
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR="minor",
        )
        value = types.SimpleNamespace
        self.CUstream_flags = value(CU_STREAM_NON_BLOCKING=value(value=1))
        self.CUevent_flags = value(CU_EVENT_DISABLE_TIMING=value(value=2))
        self.CUdeviceptr = Ptr

    def __getattr__(self, name):  # record every driver function called
        raise AttributeError(f"the fake driver has no {name}")

    def _ok(self, name, *values):
        self.calls.append(name)
        return (self.SUCCESS, *values)

    def cuDeviceGet(self, i):
        return self._ok("cuDeviceGet", i)

    def cuDevicePrimaryCtxRetain(self, dev):
        return self._ok("cuDevicePrimaryCtxRetain", f"context {dev}")

    def cuCtxSetCurrent(self, ctx):
        return self._ok("cuCtxSetCurrent")

    def cuDeviceGetAttribute(self, attr, dev):
        return self._ok("cuDeviceGetAttribute", 9 if attr == "major" else 0)

    def cuDeviceGetName(self, length, dev):
        return self._ok("cuDeviceGetName", b"Fake GPU" + b"\x00" * (length - 8))

    def cuStreamCreate(self, flags):
        assert flags == 1, "the stream must be non-blocking"
        return self._ok("cuStreamCreate", Ptr(77))

    def cuModuleLoadData(self, image):
        self.loaded.append(bytes(image[:4]))
        return self._ok("cuModuleLoadData", len(self.loaded))

    def cuModuleGetFunction(self, module, name):
        return self._ok("cuModuleGetFunction", name.decode())

    def cuMemHostAlloc(self, size, flags):
        buf = ctypes.create_string_buffer(size)
        self.pinned.append(buf)
        return self._ok("cuMemHostAlloc", ctypes.addressof(buf))

    def cuEventCreate(self, flags):
        return self._ok("cuEventCreate", "event")

    def cuEventRecord(self, event, stream):
        return self._ok("cuEventRecord")

    def cuEventSynchronize(self, event):
        return self._ok("cuEventSynchronize")

    def cuMemAlloc(self, nbytes):
        if self.in_use + nbytes > self.memory_limit:
            self.calls.append("cuMemAlloc")
            return (self.OUT_OF_MEMORY, None)
        address = self.emulator.malloc(nbytes)
        self.sizes[address] = nbytes
        self.in_use += nbytes
        return self._ok("cuMemAlloc", Ptr(address))

    def cuMemFree(self, ptr):
        self.in_use -= self.sizes.pop(int(ptr))
        self.emulator.free(int(ptr))
        return self._ok("cuMemFree")

    def cuMemcpyHtoDAsync(self, dst, src, n, stream):
        assert int(stream) == 77
        ctypes.memmove(int(dst), src, n)
        return self._ok("cuMemcpyHtoDAsync")

    def cuMemcpyDtoHAsync(self, dst, src, n, stream):
        ctypes.memmove(dst, int(src), n)
        return self._ok("cuMemcpyDtoHAsync")

    def cuMemcpyDtoDAsync(self, dst, src, n, stream):
        ctypes.memmove(int(dst), int(src), n)
        return self._ok("cuMemcpyDtoDAsync")

    def cuLaunchKernel(self, f, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        assert int(stream) == 77 and extra == 0
        code = self.emulator._lib.pg_emu_launch(
            self.emulator.function(f), gx, gy, gz, bx, by, bz, shared, params, 0,
            self.emulator._message, 2048,
        )  # fmt: skip
        self.calls.append("cuLaunchKernel")
        return (self.LAUNCH_FAILED if code else self.SUCCESS,)

    def cuStreamSynchronize(self, stream):
        return self._ok("cuStreamSynchronize")

    def cuGetErrorName(self, err):
        return (
            self.SUCCESS,
            {2: b"CUDA_ERROR_OUT_OF_MEMORY"}.get(err, b"CUDA_ERROR_LAUNCH_FAILED"),
        )

    def cuGetErrorString(self, err):
        return (self.SUCCESS, b"fake driver error")


@pytest.fixture(scope="module")
def emulator():
    return EmulatedRuntime()


@pytest.fixture
def fake(emulator, monkeypatch):
    _nvrtc_or_skip()
    driver = FakeDriver(emulator)
    monkeypatch.setattr(gpu, "_driver", lambda: driver)
    monkeypatch.setattr(probe, "_probe", probe.Probe(True, devices=1, driver_version=99000))
    monkeypatch.setattr(gpu._local, "runtime", None, raising=False)
    return driver


def test_every_module_and_function_is_loaded_when_the_runtime_starts(fake):
    from plugrad_cuda import sources

    runtime = gpu.GpuRuntime(0)
    assert (runtime.code_kind, runtime.code_arch) == ("cubin", 90)
    assert fake.loaded == [b"\x7fELF"] * len(sources.FAMILIES)
    assert fake.calls.count("cuModuleGetFunction") == len(sources.all_kernels())
    assert runtime.description == "Fake GPU, sm_90, driver 99.0"


def test_a_driver_older_than_nvrtc_gets_ptx(fake, monkeypatch):
    monkeypatch.setattr(probe, "_probe", probe.Probe(True, devices=1, driver_version=12000))
    runtime = gpu.GpuRuntime(0)
    assert (runtime.code_kind, runtime.code_arch) == ("ptx", 90)
    assert fake.loaded[0] != b"\x7fELF"  # PTX text


def test_kernels_and_copies_in_staging_chunks(fake, monkeypatch):
    monkeypatch.setattr(gpu, "STAGING_BYTES", 4096)  # many chunks for a small array
    backend = CudaBackend(gpu.GpuRuntime(0))
    host = np.random.default_rng(0).normal(size=(30, 50))
    x = Strided(backend.from_numpy(host.reshape(-1)), (30, 50), (50, 1), 0, "float64")
    assert fake.calls.count("cuMemcpyHtoDAsync") == -(-host.nbytes // 4096)
    out = Strided(backend.allocate(50 * 30, "float64"), (50, 30), (30, 1), 0, "float64")
    backend.unary("exp", Strided(x.buffer, (50, 30), (1, 50), 0, "float64"), out)
    np.testing.assert_allclose(backend.to_numpy(out), np.exp(host.T), rtol=1e-14)
    product = Strided(backend.allocate(30 * 30, "float64"), (1, 30, 30), (900, 30, 1), 0, "float64")
    backend.matmul(Strided(x.buffer, (1, 30, 50), (0, 50, 1), 0, "float64"),
                   Strided(x.buffer, (1, 50, 30), (0, 1, 50), 0, "float64"), product)  # fmt: skip
    np.testing.assert_allclose(backend.to_numpy(product)[0], host @ host.T, rtol=1e-12)


def test_a_failed_launch_names_the_kernel_and_geometry(fake):
    backend = CudaBackend(gpu.GpuRuntime(0))
    from plugrad_cuda.launch import Geometry

    with pytest.raises(LaunchError, match=r"pg_fill_4 \(grid \(1, 1, 1\) block \(4096, 1, 1\)"):
        backend.launch("pg_fill_4", Geometry((1, 1, 1), (4096, 1, 1)))


def test_out_of_memory_returns_the_cache_then_raises_memory_error(fake):
    fake.memory_limit = 3 << 20
    backend = CudaBackend(gpu.GpuRuntime(0))
    a = backend.allocate(1 << 19, "float32")  # 2 MiB
    del a  # cached, not freed
    assert "cuMemFree" not in fake.calls
    b = backend.allocate(3 << 18, "float32")  # 3 MiB: fits only once the cache is returned
    assert "cuMemFree" in fake.calls and b.address and backend.cached_bytes() == 0
    with pytest.raises(MemoryError, match="out of device memory"):
        backend.allocate(1 << 18, "float32")
    assert backend.allocated_bytes() == 3 << 20
