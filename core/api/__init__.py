"""The method surface beyond Tensor's core, one family per module.

Each op is one function with `@export` (registry.py): it becomes `plugrad.<name>`,
`Tensor.<name>` and, when asked, the in-place `Tensor.<name>_`. Add an op by writing it in
its family's module; nothing else needs editing.
"""

from __future__ import annotations

# The families: importing a module registers its ops.
from . import (
    arith,
    convenience,
    einsum,
    index,
    linalg_aliases,
    matrix,
    norms,
    order,
    reduce,
    sampling,
    scans,
    select,
    shape,
)
from .registry import FUNCTIONS, export

__all__ = ["FUNCTIONS", "export"]
