"""The emulated runtime: the kernel sources compiled by the host C++ compiler with the CUDA shim
(emulator/shim.h) into one shared library, host memory as device memory, launches run by the
fiber scheduler (emulator/scheduler.cpp) with cuLaunchKernel's parameter packing.

Objects and the linked library are cached on disk like the CUBINs (plugrad_cuda.cache), keyed
by the sources, the shim, the compiler's version and the flags. `PLUGRAD_CUDA_EMULATE_REVERSE=1`
runs every block's threads in reverse order (a missing `__syncthreads` then shows up as a
wrong result).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from . import cache as disk
from . import sources
from .launch import Geometry, LaunchError, Params

KERNEL_FLAGS = (
    "-std=c++17", "-O2", "-fPIC", "-fno-exceptions", "-fno-rtti", "-ffp-contract=off",
    "-fcf-protection=none", "-fvisibility=hidden", "-Wno-unknown-pragmas", "-x", "c++",
)  # fmt: skip
SCHEDULER_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-fcf-protection=none")
_MESSAGE_BYTES = 2048


class EmulatorUnavailable(RuntimeError):
    """The emulated runtime cannot be built here (no host C++ compiler, or it failed)."""


def _emulator_dir() -> Path:
    return Path(str(resources.files(__package__) / "emulator"))


def compiler() -> str:
    """The host C++ compiler: $CXX, else g++ or c++ on PATH."""
    for candidate in (os.environ.get("CXX"), "g++", "c++"):
        if candidate and shutil.which(candidate):
            return candidate
    raise EmulatorUnavailable(
        "the emulated CUDA runtime needs a host C++ compiler (g++ or $CXX) and none was found"
    )


@cache
def _compiler_version(cxx: str) -> str:
    result = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EmulatorUnavailable(
            f"building the emulator ({what}) failed:\n{result.stderr[-4000:]}"
        )


def _object(cxx: str, source: Path, flags: tuple[str, ...], key_parts: tuple[str, ...]) -> bytes:
    key = disk.key_of("emulator-object", _compiler_version(cxx), *flags, *key_parts)
    cached = disk.load(key, ".o")
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="plugrad-cuda-") as tmp:
        out = Path(tmp) / "out.o"
        _run([cxx, *flags, "-c", str(source), "-o", str(out)], source.name)
        payload = out.read_bytes()
    disk.store(key, ".o", payload)
    return payload


def build_library(units: dict[str, str] | None = None, defines: tuple[str, ...] = ()) -> Path:
    """The emulator's shared library, built or taken from the cache, copied to a private
    temporary file ready to load. `units` maps file names to kernel source text (default: every
    packaged kernel source); `defines` are preprocessor names for the scheduler (the tests build
    the portable ucontext switch with PG_EMU_UCONTEXT)."""
    cxx = compiler()
    emu = _emulator_dir()
    kernels = Path(str(sources.kernel_dir()))
    shim = (emu / "shim.h").read_text()
    if units is None:
        units = {name: sources.text(name) for name in sources.FAMILIES}
    scratch = Path(tempfile.mkdtemp(prefix="plugrad-cuda-emulator-"))
    jobs = []
    for name, text in units.items():
        headers = tuple(sources.text(h) for h in sources.includes_of(text))
        path = kernels / name if (kernels / name).is_file() else scratch / name
        if not path.is_file() or path.read_text() != text:
            path = scratch / name
            path.write_text(text)
        flags = (*KERNEL_FLAGS, "-include", str(emu / "shim.h"), f"-I{emu}", f"-I{kernels}")
        jobs.append((path, flags, (shim, text, *headers)))
    scheduler = emu / "scheduler.cpp"
    flags = (*SCHEDULER_FLAGS, f"-I{emu}", *(f"-D{d}" for d in defines))
    jobs.append((scheduler, flags, (shim, scheduler.read_text())))
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        objects = list(pool.map(lambda job: _object(cxx, *job), jobs))
    key = disk.key_of("emulator-library", _compiler_version(cxx), *objects)
    library = disk.load(key, ".so")
    target = scratch / "plugrad_cuda_emulator.so"
    if library is None:
        paths = []
        for i, payload in enumerate(objects):
            path = scratch / f"{i}.o"
            path.write_bytes(payload)
            paths.append(str(path))
        _run([cxx, "-shared", "-o", str(target), *paths], "link")
        disk.store(key, ".so", target.read_bytes())
    else:
        target.write_bytes(library)
    return target


class EmulatedRuntime:
    """The runtime layer of `CudaBackend` on the CPU (see the module docstring)."""

    emulated = True
    description = "emulated on the CPU"
    grid_stride_blocks = 64  # blocks of a grid-stride launch: one CPU core is one multiprocessor

    def __init__(self, units: dict[str, str] | None = None, defines: tuple[str, ...] = ()) -> None:
        path = build_library(units, defines)
        self._lib = lib = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)
        shutil.rmtree(path.parent, ignore_errors=True)  # the mapping stays valid
        lib.pg_emu_kernel_count.restype = ctypes.c_int
        lib.pg_emu_kernel_name.restype = ctypes.c_char_p
        lib.pg_emu_kernel_name.argtypes = [ctypes.c_int]
        lib.pg_emu_malloc.restype = ctypes.c_void_p
        lib.pg_emu_malloc.argtypes = [ctypes.c_size_t]
        lib.pg_emu_free.argtypes = [ctypes.c_void_p]
        lib.pg_emu_launch.restype = ctypes.c_int
        lib.pg_emu_launch.argtypes = [ctypes.c_int] + [ctypes.c_uint] * 6 + [
            ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
        ]  # fmt: skip
        self._index = {
            lib.pg_emu_kernel_name(i).decode(): i for i in range(lib.pg_emu_kernel_count())
        }
        missing = sorted(set(sources.all_kernels()) - set(self._index)) if units is None else []
        if missing:
            raise EmulatorUnavailable(f"the emulator library lacks kernels {', '.join(missing)}")
        self.reverse_threads = os.environ.get("PLUGRAD_CUDA_EMULATE_REVERSE", "") == "1"
        self._lock = threading.Lock()
        self._message = ctypes.create_string_buffer(_MESSAGE_BYTES)

    def kernel_names(self) -> list[str]:
        return sorted(self._index)

    # --- memory ------------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        address = self._lib.pg_emu_malloc(nbytes)
        if not address:
            raise MemoryError(f"emulated cuda could not allocate {nbytes} bytes")
        return address

    def free(self, address: int) -> None:
        self._lib.pg_emu_free(address)

    def upload(self, address: int, host: np.ndarray) -> None:
        """Copy the C-contiguous `host` into device memory at `address`."""
        ctypes.memmove(address, host.ctypes.data, host.nbytes)

    def download(self, host: np.ndarray, address: int) -> None:
        """Copy device memory at `address` into the C-contiguous `host` (synchronising)."""
        ctypes.memmove(host.ctypes.data, address, host.nbytes)

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        ctypes.memmove(dst, src, nbytes)

    # --- kernels -----------------------------------------------------------------------
    def function(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise LaunchError(f"no kernel named {name} in the emulator library") from None

    def launch(self, name: str, function: int, geometry: Geometry, params: Params) -> None:
        (gx, gy, gz), (bx, by, bz), shared = geometry
        with self._lock:
            code = self._lib.pg_emu_launch(
                function, gx, gy, gz, bx, by, bz, shared, params.address,
                1 if self.reverse_threads else 0, self._message, _MESSAGE_BYTES,
            )  # fmt: skip
            if code:
                message = self._message.value.decode(errors="replace")
                raise LaunchError(f"kernel {name} ({geometry.describe()}): {message}")

    def synchronize(self) -> None:
        return None
