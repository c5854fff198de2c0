"""plugrad.distributed: processes that train together, on MPI (torch.distributed's names).

    # launched with: plugrad run -n 2 train.py   (or: mpiexec -n 2 python train.py)
    import plugrad.distributed as dist
    dist.init_process_group()                 # backend="mpi"
    t = plugrad.ones(3) * dist.get_rank()
    dist.all_reduce(t)                        # every rank: 0 + 1 = [1, 1, 1]

Needs `pip install 'plugrad[distributed]'` (mpi4py and the mpich wheel). See
docs/distributed.md for the launcher, DistributedDataParallel and what changes on a cluster.
"""

from __future__ import annotations

from .checks import CollectiveMismatchError
from .collectives import (
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    irecv,
    isend,
    recv,
    reduce_scatter_tensor,
    scatter,
    send,
)
from .process_group import DistributedTimeoutError, ProcessGroup, ReduceOp, Work, register_backend
from .world import (
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = [
    "CollectiveMismatchError",
    "DistributedTimeoutError",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "isend",
    "recv",
    "reduce_scatter_tensor",
    "register_backend",
    "scatter",
    "send",
]
