"""Every kernel source compiles with NVRTC to CUBIN for sm_80 and sm_90 (no GPU needed), and
defines exactly the kernels the backend looks up."""

from __future__ import annotations

import os
import re

import pytest

from plugrad_cuda import dtypes, sources

ARCHS = (80, 90)


def _nvrtc():
    try:
        from plugrad_cuda import nvrtc

        nvrtc.version()
    except Exception as error:  # cuda-bindings or the NVRTC wheel missing
        if os.environ.get("PLUGRAD_CUDA_REQUIRE_NVRTC") == "1":
            raise
        pytest.skip(f"NVRTC unavailable ({error}); install plugrad-cuda[cu12] or [cu13]")
    return nvrtc


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("source", sorted(sources.FAMILIES))
def test_source_compiles_to_cubin(source, arch):
    nvrtc = _nvrtc()
    cubin = nvrtc.compile_source(source, arch, "cubin")
    assert cubin[:4] == b"\x7fELF", "a CUBIN is an ELF image"
    symbols = set(re.findall(rb"pg_[a-z0-9_]+", cubin))
    missing = [name for name in sources.kernel_names(source) if name.encode() not in symbols]
    assert not missing, f"{source} for sm_{arch} lacks {missing}"


def test_compile_errors_carry_the_nvrtc_log(tmp_path, monkeypatch):
    nvrtc = _nvrtc()
    monkeypatch.setenv("PLUGRAD_CUDA_CACHE", "off")
    with pytest.raises(nvrtc.CompileError, match="undefined_thing"):
        nvrtc._compile("broken.cu", 'extern "C" __global__ void k() { undefined_thing(); }',
                       nvrtc.options(80, "cubin"), "cubin")  # fmt: skip


def test_shared_memory_limits_are_checked_by_cubin_not_ptx():
    nvrtc = _nvrtc()
    text = (
        'extern "C" __global__ void big(float *o) { __shared__ float s[16384]; '
        "s[threadIdx.x] = 1; __syncthreads(); o[threadIdx.x] = s[threadIdx.x ^ 1]; }"
    )
    nvrtc._compile("big.cu", text, nvrtc.options(90, "ptx"), "ptx")
    with pytest.raises(nvrtc.CompileError, match="too much shared data"):
        nvrtc._compile("big.cu", text, nvrtc.options(90, "cubin"), "cubin")


@pytest.mark.parametrize("arch", ARCHS)
def test_the_gemm_register_tiles_stay_in_registers(arch):
    """ptxas spills nothing in the GEMM kernels (a spill would put the accumulators in local
    memory, off the fast path)."""
    nvrtc = _nvrtc()
    report = nvrtc.resource_report("gemm.cu", arch)
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
    assert len(spills) == len(sources.kernel_names("gemm.cu")), report
    assert all(stores == "0" and loads == "0" for stores, loads in spills), report


def test_the_dtype_table_matches_the_kernels():
    header = sources.text("pg_common.cuh")

    def names(macro: str) -> list[str]:
        """The dtype names an X-macro list expands to, in order."""
        body = re.search(rf"#define {macro}\(X\)(.*)", header).group(1)
        found = []
        for entry, inner in re.findall(r"\bX\((\w+),|(PG_\w+_DTYPES)\(X\)", body):
            found += [entry] if entry else names(inner)
        return found

    assert tuple(names("PG_ALL_DTYPES")) == dtypes.NAMES
    assert tuple(names("PG_FLOAT_DTYPES")) == dtypes.FLOATS
    assert tuple(names("PG_INT_DTYPES")) == dtypes.INTS
    assert tuple(names("PG_HALF_DTYPES")) == dtypes.HALVES
