"""The CFFI builder for plugrad_c_cpu._native (API mode, compiled at install time).

Flags: -O3 and OpenMP; never -ffast-math or -march=native (SIMD kernels are picked at run
time). PLUGRAD_C_CPU_SANITIZE=address builds with AddressSanitizer instead.

Run as a script, `python build_ffi.py OUTDIR` compiles the module into OUTDIR/plugrad_c_cpu.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
SOURCES = [
    "core.c",
    "reduce.c",
    "gemm.c",
    "index.c",
    "random.c",
    "vmath.c",
    "fused.c",
    "recurrent.c",
    "sort.c",
    "scan.c",
    "half.c",
]


def _flags() -> tuple[list[str], list[str]]:
    compile_args = ["-O3", "-fopenmp", "-std=gnu11", "-fno-strict-aliasing"]
    link_args = ["-fopenmp"]
    sanitize = os.environ.get("PLUGRAD_C_CPU_SANITIZE", "").strip()
    if sanitize:
        compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", f"-fsanitize={sanitize}"]
        compile_args += ["-fopenmp", "-std=gnu11", "-fno-strict-aliasing"]
        link_args = [f"-fsanitize={sanitize}", "-fopenmp"]
    return compile_args, link_args


def _builder(absolute: bool = False) -> FFI:
    where = (lambda p: str(p)) if absolute else (lambda p: os.path.relpath(p, HERE))
    ffi = FFI()
    cdef = (CSRC / "api.h").read_text()
    ffi.cdef(cdef)
    compile_args, link_args = _flags()
    ffi.set_source(
        "plugrad_c_cpu._native",
        '#include "api.h"',
        sources=[where(CSRC / s) for s in SOURCES],
        include_dirs=[where(CSRC)],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    return ffi


ffibuilder = _builder()

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    out.mkdir(parents=True, exist_ok=True)
    _builder(absolute=True).compile(tmpdir=str(out), verbose=True)
