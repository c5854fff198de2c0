"""NVRTC: a kernel source to CUBIN (for one architecture) or PTX, with the on-disk cache.

NVRTC needs no driver, so CI compiles every kernel for sm_80 and sm_90 on machines without a
GPU (`tests/backends/cuda/test_nvrtc.py`); CUBIN, not only PTX, because shared-memory and
register limits are checked only when code is generated for a real architecture.
"""

from __future__ import annotations

from functools import cache

from . import cache as disk
from . import sources


class CompileError(RuntimeError):
    """NVRTC rejected a kernel source; the message holds its log."""


def _check(result, what: str, program=None) -> None:
    from cuda.bindings import nvrtc

    if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        log = _log(program) if program is not None else ""
        raise CompileError(f"NVRTC {what} failed: {result!r}{': ' + log if log else ''}")


def _log(program) -> str:
    from cuda.bindings import nvrtc

    err, size = nvrtc.nvrtcGetProgramLogSize(program)
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS or size <= 1:
        return ""
    buf = b" " * size
    nvrtc.nvrtcGetProgramLog(program, buf)
    return buf.rstrip(b"\x00 ").decode(errors="replace")


@cache
def version() -> tuple[int, int]:
    """NVRTC's (major, minor); raises ImportError or DynamicLibNotFoundError without it."""
    from cuda.bindings import nvrtc

    err, major, minor = nvrtc.nvrtcVersion()
    _check(err, "version query")
    return int(major), int(minor)


@cache
def supported_archs() -> tuple[int, ...]:
    """The sm_XY numbers this NVRTC can target (e.g. 80, 90)."""
    from cuda.bindings import nvrtc

    err, count = nvrtc.nvrtcGetNumSupportedArchs()
    _check(err, "architecture query")
    err, archs = nvrtc.nvrtcGetSupportedArchs()
    _check(err, "architecture query")
    return tuple(int(a) for a in archs)


@cache
def header_dir() -> str | None:
    """The CUDA runtime headers (cuda_fp16.h, cuda_bf16.h) from the nvidia-cuda-runtime wheel."""
    try:
        from cuda import pathfinder

        located = pathfinder.locate_nvidia_header_directory("cudart")
    except Exception:  # headers are optional until a kernel includes them
        return None
    return None if located is None else located.abs_path


def options(arch: int, kind: str) -> list[str]:
    target = f"sm_{arch}" if kind == "cubin" else f"compute_{arch}"
    opts = [f"--gpu-architecture={target}", "--std=c++17", "-default-device", "-lineinfo"]
    headers = header_dir()
    if headers:
        opts.append(f"-I{headers}")
    return opts


def compile_source(source: str, arch: int, kind: str = "cubin", driver: str = "") -> bytes:
    """The CUBIN (kind="cubin") or PTX of one kernel source for `arch` (e.g. 90), from the cache
    when an identical compile was done before. `driver` joins the key for PTX, which the
    driver's JIT turns into machine code."""
    if kind not in ("cubin", "ptx"):
        raise ValueError(f"kind must be 'cubin' or 'ptx', not {kind!r}")
    opts = options(arch, kind)
    text = sources.text(source)
    headers = [sources.text(h) for h in sources.includes(source)]
    major, minor = version()
    key = disk.key_of(
        "nvrtc", text, *headers, *opts, f"nvrtc {major}.{minor}", kind, str(arch),
        driver if kind == "ptx" else "",
    )  # fmt: skip
    cached = disk.load(key, f".{kind}")
    if cached is not None:
        return cached
    payload = _compile(source, text, opts, kind)
    disk.store(key, f".{kind}", payload)
    return payload


def resource_report(source: str, arch: int) -> str:
    """ptxas's report (registers, spills, shared memory per kernel) of one source for sm_`arch`,
    never cached: for tests and tuning."""
    log: list[str] = []
    _compile(source, sources.text(source), [*options(arch, "cubin"), "--ptxas-options=-v"],
             "cubin", log)  # fmt: skip
    return log[0]


def _compile(source: str, text: str, opts: list[str], kind: str, log: list | None = None) -> bytes:
    from cuda.bindings import nvrtc

    includes = sources.includes_of(text)
    err, program = nvrtc.nvrtcCreateProgram(
        text.encode(), source.encode(), len(includes),
        [sources.text(h).encode() for h in includes], [h.encode() for h in includes],
    )  # fmt: skip
    _check(err, f"program creation for {source}")
    try:
        encoded = [o.encode() for o in opts]
        (err,) = nvrtc.nvrtcCompileProgram(program, len(encoded), encoded)
        _check(err, f"compilation of {source} ({' '.join(opts[:1])})", program)
        if log is not None:
            log.append(_log(program))
        if kind == "cubin":
            err, size = nvrtc.nvrtcGetCUBINSize(program)
            _check(err, "CUBIN size")
            buf = b" " * size
            (err,) = nvrtc.nvrtcGetCUBIN(program, buf)
            _check(err, "CUBIN")
        else:
            err, size = nvrtc.nvrtcGetPTXSize(program)
            _check(err, "PTX size")
            buf = b" " * size
            (err,) = nvrtc.nvrtcGetPTX(program, buf)
            _check(err, "PTX")
        return bytes(buf)
    finally:
        nvrtc.nvrtcDestroyProgram(program)
