"""The MPI process group, through mpi4py: every operation is MPI's non-blocking form.

Datatypes come from the NumPy dtype of the buffer (plugrad dtype -> NumPy dtype -> MPI
datatype, as mpi4py types NumPy buffers), so a new plugrad dtype needs no change here:

- MPI reduces integers and float32/float64 itself; bool reduces with MPI's logical ops (SUM
  and MAX are OR, PRODUCT and MIN are AND, as NumPy's ufuncs on bool arrays).
- Any other dtype (float16, bfloat16, ...) travels as opaque elements of its item size, and is
  reduced by a user-defined MPI operation that runs the NumPy ufunc on the received blocks.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any

import numpy as np

from .process_group import ProcessGroup, ReduceOp, Work

_UFUNCS = {
    ReduceOp.SUM: np.add,
    ReduceOp.PRODUCT: np.multiply,
    ReduceOp.MIN: np.minimum,
    ReduceOp.MAX: np.maximum,
    ReduceOp.BAND: np.bitwise_and,
    ReduceOp.BOR: np.bitwise_or,
    ReduceOp.BXOR: np.bitwise_xor,
}
# Environment variables through which launchers announce the size of the job they started.
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError(
            "plugrad.distributed needs mpi4py and an MPI library: pip install "
            "'plugrad[distributed]' (mpi4py and the mpich wheel)"
        ) from error
    return MPI


class MPIProcessGroup(ProcessGroup):
    """COMM_WORLD (or a given communicator) as a plugrad process group."""

    name = "mpi"

    def __init__(self, timeout: timedelta, comm: Any = None) -> None:
        self.MPI = import_mpi()
        self.comm = comm if comm is not None else self.MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = timeout
        self._types: dict[np.dtype, tuple[Any, bool]] = {}
        self._user_ops: dict[tuple[np.dtype, ReduceOp], Any] = {}
        if comm is None:
            _check_launcher_agrees(self.size)

    # --- datatypes -----------------------------------------------------------------------
    def _element(self, dtype: np.dtype) -> tuple[Any, bool]:
        """(MPI datatype of one element, whether MPI's own reduction ops apply to it)."""
        found = self._types.get(dtype)
        if found is None:
            native = dtype.kind in "iub" or (dtype.kind == "f" and dtype.itemsize in (4, 8))
            if native:
                found = (self.MPI.Datatype.fromcode(dtype.char), True)
            else:
                opaque = self.MPI.BYTE.Create_contiguous(dtype.itemsize).Commit()
                found = (opaque, False)
            self._types[dtype] = found
        return found

    def _spec(self, buffer: np.ndarray, count: int | None = None) -> list:
        datatype, _ = self._element(buffer.dtype)
        return [
            buffer.reshape(-1).view(np.uint8),
            buffer.size if count is None else count,
            datatype,
        ]

    def _op(self, dtype: np.dtype, op: ReduceOp) -> Any:
        MPI = self.MPI
        _, native = self._element(dtype)
        if dtype.kind == "b":
            if op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.BOR):
                return MPI.LOR
            if op in (ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.BAND):
                return MPI.LAND
            return MPI.LXOR
        if native:
            return {
                ReduceOp.SUM: MPI.SUM,
                ReduceOp.PRODUCT: MPI.PROD,
                ReduceOp.MIN: MPI.MIN,
                ReduceOp.MAX: MPI.MAX,
                ReduceOp.BAND: MPI.BAND,
                ReduceOp.BOR: MPI.BOR,
                ReduceOp.BXOR: MPI.BXOR,
            }[op]
        key = (dtype, op)
        found = self._user_ops.get(key)
        if found is None:
            ufunc = _UFUNCS[op]

            def combine(incoming: Any, inout: Any, _datatype: Any) -> None:
                target = np.frombuffer(inout, dtype=dtype)
                ufunc(np.frombuffer(incoming, dtype=dtype), target, out=target)

            found = self._user_ops[key] = MPI.Op.Create(combine, commute=True)
        return found

    def _work(self, request: Any, what: str, keep: tuple, status: Any = None) -> Work:
        if status is None:
            return Work(request.Test, what, self.timeout, keep=keep)
        return Work(
            lambda: request.Test(status), what, self.timeout, on_complete=status.Get_source,
            keep=keep,
        )  # fmt: skip

    # --- operations ----------------------------------------------------------------------
    def allreduce(self, buffer: np.ndarray, op: ReduceOp, what: str) -> Work:
        request = self.comm.Iallreduce(
            self.MPI.IN_PLACE, self._spec(buffer), self._op(buffer.dtype, op)
        )
        return self._work(request, what, (buffer,))

    def broadcast(self, buffer: np.ndarray, root: int, what: str) -> Work:
        return self._work(self.comm.Ibcast(self._spec(buffer), root), what, (buffer,))

    def allgather(self, send: np.ndarray, recv: np.ndarray, what: str) -> Work:
        request = self.comm.Iallgather(self._spec(send), self._spec(recv, send.size))
        return self._work(request, what, (send, recv))

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: ReduceOp, what: str) -> Work:
        request = self.comm.Ireduce_scatter_block(
            self._spec(send, recv.size), self._spec(recv), self._op(send.dtype, op)
        )
        return self._work(request, what, (send, recv))

    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int, what: str) -> Work:
        target = self._spec(recv, send.size) if recv is not None else None
        request = self.comm.Igather(self._spec(send), target, root)
        return self._work(request, what, (send, recv))

    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int, what: str) -> Work:
        source = self._spec(send, recv.size) if send is not None else None
        request = self.comm.Iscatter(source, self._spec(recv), root)
        return self._work(request, what, (send, recv))

    def send(self, buffer: np.ndarray, dst: int, tag: int, what: str) -> Work:
        return self._work(self.comm.Isend(self._spec(buffer), dst, tag), what, (buffer,))

    def recv(self, buffer: np.ndarray, src: int | None, tag: int, what: str) -> Work:
        source = self.MPI.ANY_SOURCE if src is None else src
        status = self.MPI.Status()
        request = self.comm.Irecv(self._spec(buffer), source, tag)
        return self._work(request, what, (buffer,), status)

    def barrier(self, what: str) -> Work:
        return self._work(self.comm.Ibarrier(), what, ())

    def abort(self, code: int) -> None:
        abort_job(self.comm, code)


# MPI_Abort makes the launcher kill every rank at once; output still travelling to it from this
# rank (the traceback just printed) can be dropped on a loaded machine. A short pause after
# flushing lets it arrive first.
_ABORT_GRACE_S = 0.5


def abort_job(comm: object, code: int) -> None:
    """Flush this rank's output, give the launcher a moment to forward it, end the job."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(_ABORT_GRACE_S)
    comm.Abort(code)


def _check_launcher_agrees(size: int) -> None:
    """A job started by one MPI's mpiexec but run on another MPI's library gives each process
    a world of its own: catch that instead of training N unconnected copies."""
    for variable in _LAUNCHER_SIZE_VARIABLES:
        announced = os.environ.get(variable)
        if announced and announced.isdigit() and int(announced) != size:
            raise RuntimeError(
                f"the launcher started {announced} processes ({variable}) but MPI reports a "
                f"world of {size}: mpiexec belongs to a different MPI than the one mpi4py "
                "loaded. Launch with `plugrad run -n N script.py`, which uses the matching one"
            )
