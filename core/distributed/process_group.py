"""The process-group abstraction: collectives on host buffers, started without blocking.

A ProcessGroup moves and reduces contiguous NumPy buffers between the ranks of one job and
returns a `Work` for each call. The tensor-level API (`collectives.py`) hands it host memory:
a tensor's own memory on host backends, a staged copy otherwise (`staging.py`). MPI
(`mpi.py`) is the first implementation. A group that takes device memory directly (CUDA-aware
MPI, NCCL) would add device-buffer forms of these methods, and `staging.py`, which today stages
every non-host tensor through host memory, is where tensors would be routed to them.
"""

from __future__ import annotations

import abc
import enum
import os
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import numpy as np

DEFAULT_TIMEOUT = timedelta(minutes=30)
# How long wait() polls without sleeping. MPI collectives proceed in rounds that need both
# sides polling; a sleeping peer would add its sleep to every round.
SPIN_S = 0.05


class ReduceOp(enum.Enum):
    """How all_reduce / reduce_scatter combine the ranks' values (torch.distributed.ReduceOp)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class DistributedTimeoutError(RuntimeError):
    """A collective or point-to-point call did not complete within the group's timeout."""


class Work:
    """The handle of one started operation: `wait()` blocks until it is done (or the timeout
    passes), `is_completed()` checks without blocking. Both drive MPI's progress engine, so
    polling a Work also moves the data along."""

    def __init__(
        self,
        test: Callable[[], bool],
        describe: str,
        timeout: timedelta,
        on_complete: Callable[[], None] | None = None,
        keep: Sequence[object] = (),
    ) -> None:
        self._test = test
        self._describe = describe
        self._timeout = timeout
        self._on_complete = on_complete
        self._keep = keep  # buffers the transfer reads or writes stay alive until it ends
        self._done = False
        self._result: object = None
        self._then: list[Callable[[], None]] = []

    def then(self, callback: Callable[[], None]) -> Work:
        """Run callback() once the operation has completed (before wait() returns)."""
        self._then.append(callback)
        return self

    def is_completed(self) -> bool:
        if not self._done and self._test():
            self._finish()
        return self._done

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until done; raises DistributedTimeoutError past `timeout` (default: the
        group's). Returns True, as torch's Work.wait."""
        if self._done:
            return True
        limit = (timeout or self._timeout).total_seconds()
        start = time.monotonic()
        pause = 0.0
        while not self._test():
            waited = time.monotonic() - start
            if waited < SPIN_S:
                os.sched_yield()  # spin: the peer may need every round of the exchange at once
                continue
            if waited > limit:
                raise DistributedTimeoutError(
                    f"{self._describe} did not complete within {limit:g} s: another rank has "
                    "not made the matching call (or has died). Check that every rank calls "
                    "the same collectives in the same order; init_process_group(timeout=...) "
                    "sets the limit"
                )
            pause = min(1e-3, pause + 1e-5)  # a long wait: give the core away
            time.sleep(pause)
        self._finish()
        return True

    def result(self) -> object:
        """What the operation produced where it produces something (recv: the source rank)."""
        self.wait()
        return self._result

    def _finish(self) -> None:
        self._done = True
        if self._on_complete is not None:
            self._result = self._on_complete()
        for callback in self._then:
            callback()
        self._keep = ()


class ProcessGroup(abc.ABC):
    """Ranks 0..size-1 of one job. Every method takes C-contiguous NumPy buffers and starts the
    transfer; buffers must not be touched until the returned Work completes."""

    name: str
    rank: int
    size: int
    timeout: timedelta

    @abc.abstractmethod
    def allreduce(self, buffer: np.ndarray, op: ReduceOp, what: str) -> Work:
        """Combine `buffer` across ranks in place (op is never AVG here: the caller divides)."""

    @abc.abstractmethod
    def broadcast(self, buffer: np.ndarray, root: int, what: str) -> Work: ...

    @abc.abstractmethod
    def allgather(self, send: np.ndarray, recv: np.ndarray, what: str) -> Work:
        """recv (size * send.size elements) gets every rank's send, in rank order."""

    @abc.abstractmethod
    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: ReduceOp, what: str) -> Work:
        """send (size * recv.size elements) is reduced; rank r gets block r in recv."""

    @abc.abstractmethod
    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int, what: str) -> Work: ...

    @abc.abstractmethod
    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int, what: str) -> Work: ...

    @abc.abstractmethod
    def send(self, buffer: np.ndarray, dst: int, tag: int, what: str) -> Work: ...

    @abc.abstractmethod
    def recv(self, buffer: np.ndarray, src: int | None, tag: int, what: str) -> Work:
        """src None receives from any rank; the Work's result() is the sender's rank."""

    @abc.abstractmethod
    def barrier(self, what: str) -> Work: ...

    @abc.abstractmethod
    def abort(self, code: int) -> None:
        """End every rank of the job now (after an unhandled error on this one)."""


_BACKENDS: dict[str, Callable[..., ProcessGroup]] = {}


def register_backend(name: str, factory: Callable[..., ProcessGroup]) -> None:
    """Make `init_process_group(backend=name)` build its group with factory(timeout=...)."""
    _BACKENDS[name.lower()] = factory


def make_group(backend: str, timeout: timedelta) -> ProcessGroup:
    factory = _BACKENDS.get(backend.lower())
    if factory is None:
        raise ValueError(
            f"unknown process-group backend {backend!r}; available: {', '.join(sorted(_BACKENDS))}"
        )
    return factory(timeout=timeout)
