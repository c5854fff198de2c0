"""plugrad.nn.parallel: DistributedDataParallel (data parallelism across processes, on MPI)."""

from __future__ import annotations

from .distributed import DistributedDataParallel
from .reducer import CommStats

__all__ = ["CommStats", "DistributedDataParallel"]
