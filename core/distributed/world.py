"""The default process group: init_process_group, rank and size, and what an error does.

After `init_process_group()`, an exception that no code catches on any rank prints its
traceback and aborts the whole MPI job (every rank exits non-zero), instead of leaving the other
ranks blocked in their next collective.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from types import TracebackType

from .process_group import DEFAULT_TIMEOUT, ProcessGroup, make_group, register_backend


def _mpi_group(timeout: timedelta) -> ProcessGroup:
    from .mpi import MPIProcessGroup

    return MPIProcessGroup(timeout)


register_backend("mpi", _mpi_group)


class _World:
    group: ProcessGroup | None = None
    previous_excepthook = None


def is_available() -> bool:
    """Whether mpi4py (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    return is_available()


def init_process_group(
    backend: str = "mpi",
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    *,
    abort_on_error: bool = True,
) -> None:
    """Join the job this process was launched in (`plugrad run -n N` or `mpiexec -n N`).

    MPI's launcher assigns ranks, so world_size and rank, when given, are only checked.
    timeout: how long a blocking call or `Work.wait()` waits (default 30 minutes).
    abort_on_error: an uncaught exception on this rank ends every rank of the job.
    """
    if _World.group is not None:
        raise RuntimeError("init_process_group was already called in this process")
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(
            f"init_method {init_method!r} is not used by the MPI backend: the MPI launcher "
            "connects the ranks (leave it out)"
        )
    if timeout is not None and not isinstance(timeout, timedelta):
        raise TypeError(f"timeout must be a datetime.timedelta, got {type(timeout).__name__}")
    group = make_group(backend, timeout or DEFAULT_TIMEOUT)
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given not in (-1, None) and given != actual:
            raise ValueError(
                f"init_process_group({name}={given}) but the MPI launcher made this process "
                f"{name} {actual}; leave {name} out or launch with the matching -n"
            )
    _World.group = group
    if abort_on_error:
        _World.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def _abort_on_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    group = _World.group
    previous = _World.previous_excepthook or sys.__excepthook__
    if group is None or group.size == 1:
        previous(kind, error, traceback)
        return
    print(f"plugrad.distributed: rank {group.rank} of {group.size} raised; aborting the job",
          file=sys.stderr)  # fmt: skip
    previous(kind, error, traceback)
    group.abort(1)


def is_initialized() -> bool:
    return _World.group is not None


def default_group() -> ProcessGroup:
    if _World.group is None:
        raise RuntimeError(
            "the default process group is not initialized: call "
            "plugrad.distributed.init_process_group() first (and launch with "
            "`plugrad run -n N script.py`)"
        )
    return _World.group


def resolve(group: ProcessGroup | None) -> ProcessGroup:
    return default_group() if group is None else group


def get_rank(group: ProcessGroup | None = None) -> int:
    return resolve(group).rank


def get_world_size(group: ProcessGroup | None = None) -> int:
    return resolve(group).size


def get_backend(group: ProcessGroup | None = None) -> str:
    return resolve(group).name


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default group (MPI itself is finalized when the process exits)."""
    if group is not None and group is not _World.group:
        raise ValueError("only the default process group can be destroyed")
    default_group()
    _World.group = None
    if _World.previous_excepthook is not None:
        sys.excepthook = _World.previous_excepthook
        _World.previous_excepthook = None
