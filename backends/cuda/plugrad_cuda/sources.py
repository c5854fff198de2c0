"""The kernel sources (package data under kernels/) and the kernels each one defines.

Every `.cu` file is one program: NVRTC compiles it to one CUBIN (or PTX) and the emulator to
one object of its shared library, and all its kernels are looked up when it loads. A family
`pg_unary` instantiated over the float, numeric or all dtypes defines `pg_unary_float32`, ...;
`KERNELS` lists them so the GPU runtime can load every function eagerly and tests can check
that each source defines exactly these names.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from . import dtypes

SIZES = ("1", "2", "4", "8")  # element sizes of the bit-moving kernels (PG_ELEMENT_SIZES)

# source file -> {family: instances}
FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "elementwise.cu": {
        "pg_copy": SIZES,
        "pg_fill": SIZES,
        "pg_unary": dtypes.NAMES,
        "pg_binary": dtypes.NAMES,
        "pg_where": dtypes.NAMES,
        "pg_cast": dtypes.NAMES,
    },
    "reduce.cu": {
        "pg_reduce": dtypes.NAMES,
        "pg_arg_reduce": dtypes.NAMES,
    },
    "order.cu": {
        "pg_sort_rows": dtypes.NAMES,
        "pg_sort_load": dtypes.NAMES,
        "pg_sort_stage": dtypes.NAMES,
        "pg_sort_store": dtypes.NAMES,
        "pg_scan": dtypes.NAMES,
    },
    "gemm.cu": {"pg_gemm": dtypes.FLOATS},
    "conv.cu": {"pg_im2col": dtypes.FLOATS, "pg_col2im": dtypes.FLOATS},
    "index.cu": {"pg_gather": dtypes.NAMES, "pg_scatter_add": dtypes.NAMES},
    "random.cu": {"pg_random": dtypes.NAMES},
    "fused.cu": {
        "pg_relu_backward": dtypes.FLOATS,
        "pg_axpy": dtypes.FLOATS,
        "pg_cross_entropy": dtypes.FLOATS,
        "pg_sum_scale": dtypes.FLOATS,
        "pg_cross_entropy_backward": dtypes.FLOATS,
        "pg_softmax": dtypes.FLOATS,
        "pg_softmax_backward": dtypes.FLOATS,
        "pg_lstm_gates": dtypes.FLOATS,
        "pg_lstm_gates_backward": dtypes.FLOATS,
    },
}
SINGLE_KERNELS = {"index.cu": ("pg_check_index",)}  # kernels not instantiated per dtype

HEADERS = ("pg_common.cuh",)


def kernel_names(source: str) -> tuple[str, ...]:
    families = FAMILIES[source].items()
    return SINGLE_KERNELS.get(source, ()) + tuple(
        f"{family}_{suffix}" for family, suffixes in families for suffix in suffixes
    )


def all_kernels() -> dict[str, str]:
    """kernel name -> the source that defines it."""
    return {name: source for source in FAMILIES for name in kernel_names(source)}


def kernel_dir():
    return resources.files(__package__) / "kernels"


@cache
def text(name: str) -> str:
    """A kernel source or header, by file name."""
    return (kernel_dir() / name).read_text()


def includes(source: str) -> tuple[str, ...]:
    """The local headers `source` includes (transitively), for cache keys."""
    return includes_of(text(source))


def includes_of(source_text: str) -> tuple[str, ...]:
    """The local headers a source text includes (transitively)."""
    found: list[str] = []
    pending = [source_text]
    while pending:
        for header in re.findall(r'#include\s+"([^"]+)"', pending.pop()):
            if header not in found:
                found.append(header)
                pending.append(text(header))
    return tuple(found)
