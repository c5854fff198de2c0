"""The gradient reducer of DistributedDataParallel: buckets all-reduced during backward.

Parameters are grouped into buckets of one dtype, in reverse registration order (about the
order backward produces their gradients), the first bucket small (1 MiB) so communication
starts early, the others up to bucket_cap_mb. After the first synchronised backward the
buckets are rebuilt once in the order its gradients actually came (rank 0's). A
post-accumulate-grad hook copies each gradient into its bucket's host buffer; the moment a
bucket is complete, a non-blocking MPI all-reduce of it starts (buckets start in index order
on every rank, as MPI requires). Each later hook tests the buckets in flight, which is what
moves MPI's transfers along while backward computes: no progress thread competes with
backward for a core. When the last bucket has started, the reducer waits for all of them,
divides by the world size and writes the averages back into the parameters' .grad.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plugrad.autograd.engine import topological_order
from plugrad.autograd.tensor import Tensor
from plugrad.distributed.process_group import ProcessGroup, ReduceOp, Work
from plugrad.distributed.staging import write_into
from plugrad.ndarray import NDArray

FIRST_BUCKET_BYTES = 1 << 20
_IDLE, _ARMED, _DONE = "idle", "armed", "done"


@dataclass
class CommStats:
    """Timings of the last synchronised backward pass, in seconds.

    backward: from the start of backward to its last parameter gradient; overlapped: the part
    of it during which at least one bucket was being all-reduced; exposed: the wait after
    backward for communication still in flight.
    """

    backward: float = 0.0
    overlapped: float = 0.0
    exposed: float = 0.0
    buckets: int = 0
    bytes: int = 0
    intervals: list[tuple[float, float]] = field(default_factory=list)

    @property
    def overlap_share(self) -> float:
        return self.overlapped / self.backward if self.backward > 0 else 0.0


class _Bucket:
    def __init__(self, index: int, members: list[int], params: Sequence[Tensor]) -> None:
        self.index = index
        self.members = members
        dtype = params[members[0]].dtype.numpy
        sizes = [params[i].numel() for i in members]
        self.buffer = np.zeros(sum(sizes), dtype=dtype)
        self.slots: dict[int, np.ndarray] = {}
        offset = 0
        for i, n in zip(members, sizes):
            self.slots[i] = self.buffer[offset : offset + n].reshape(params[i].shape)
            offset += n
        self.pending = len(members)
        self.work: Work | None = None
        self.started = self.finished = 0.0

    def reset(self) -> None:
        self.pending = len(self.members)
        self.work = None
        self.started = self.finished = 0.0


def assign_buckets(
    params: Sequence[Tensor], order: Sequence[int], cap_bytes: int, first_cap_bytes: int
) -> list[list[int]]:
    """Parameter indices per bucket, taken in `order` (the order gradients are expected in),
    one dtype per bucket, each closed once it reaches its cap (the first bucket's is smaller)."""
    open_buckets: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    closed: list[list[int]] = []
    first_done: set[str] = set()
    for i in order:
        p = params[i]
        key = p.dtype.name
        bucket = open_buckets.setdefault(key, [])
        bucket.append(i)
        sizes[key] = sizes.get(key, 0) + p.numel() * p.dtype.itemsize
        cap = cap_bytes if key in first_done else min(first_cap_bytes, cap_bytes)
        if sizes[key] >= cap:
            closed.append(open_buckets.pop(key))
            sizes[key] = 0
            first_done.add(key)
    closed.extend(b for b in open_buckets.values() if b)
    position = {i: k for k, i in enumerate(order)}
    return sorted(closed, key=lambda b: position[b[0]])


class Reducer:
    """All-reduces the gradients of `params` once per synchronised backward pass."""

    def __init__(
        self,
        params: Sequence[Tensor],
        names: Sequence[str],
        group: ProcessGroup,
        bucket_cap_bytes: int,
        find_unused_parameters: bool,
    ) -> None:
        self.params = list(params)
        self.names = list(names)
        self.group = group
        self.find_unused = find_unused_parameters
        self.bucket_cap_bytes = bucket_cap_bytes
        self._build(list(reversed(range(len(self.params)))))
        self.observed: list[int] = []  # the order of the first synchronised backward
        self.rebuilt = False
        self.ready = [False] * len(self.params)
        self.used = np.zeros(len(self.params), dtype=np.int32)
        self.state = _IDLE
        self.hooked = False
        self.next_start = 0
        self.backward_began = 0.0
        self.stats = CommStats()
        self._handles = [
            p.register_post_accumulate_grad_hook(functools.partial(self._on_gradient, i))
            for i, p in enumerate(self.params)
        ]

    def _build(self, order: Sequence[int]) -> None:
        layout = assign_buckets(self.params, order, self.bucket_cap_bytes, FIRST_BUCKET_BYTES)
        self.buckets = [_Bucket(k, members, self.params) for k, members in enumerate(layout)]
        self.bucket_of = {i: b for b in self.buckets for i in b.members}

    def _rebuild_from_observed(self) -> None:
        """Once, before the second synchronised backward: buckets follow the order in which
        the first one produced gradients (rank 0's, so that every rank builds the same)."""
        self.rebuilt = True
        first = list(dict.fromkeys(self.observed))
        seen = set(first)
        order = first + [i for i in reversed(range(len(self.params))) if i not in seen]
        agreed = np.array(order, dtype=np.int64)
        self.group.broadcast(agreed, 0, "DistributedDataParallel bucket order").wait()
        self._build(agreed.tolist())

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()

    # --- forward side ----------------------------------------------------------------------
    def check_finished(self) -> None:
        """Before a forward: the previous synchronised backward must have completed."""
        if self.state == _ARMED and self.hooked:
            missing = [self.names[i] for i, r in enumerate(self.ready) if not r]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward pass ended before every "
                f"parameter had a gradient, so its all-reduce never finished. Parameters "
                f"without a gradient: {', '.join(missing)}. Pass find_unused_parameters=True "
                "if some parameters take no part in the loss"
            )

    def prepare(self, outputs: Any) -> None:
        """After a forward whose outputs will be differentiated: expect every gradient."""
        self.check_finished()
        if not self.rebuilt and self.observed:
            self._rebuild_from_observed()
        for b in self.buckets:
            b.reset()
        self.ready = [False] * len(self.params)
        self.used[:] = 0
        self.next_start = 0
        self.hooked = False
        self.backward_began = 0.0
        self.state = _ARMED
        tensors = [t for t in _tensors_in(outputs) if t.requires_grad]
        for t in tensors[:1]:
            t.register_hook(self._on_backward_start)
        if self.find_unused:
            reached = {id(t) for t in topological_order(tensors)}
            for i, p in enumerate(self.params):
                if id(p) not in reached:
                    self._mark_ready(i, p.grad)

    def disarm(self) -> None:
        """A forward outside synchronisation (no_sync): gradients only accumulate."""
        self.check_finished()
        self.state = _IDLE

    # --- backward side ---------------------------------------------------------------------
    def _on_backward_start(self, grad: Tensor) -> None:
        self.backward_began = time.perf_counter()

    def _on_gradient(self, i: int, param: Tensor) -> None:
        if self.state == _IDLE:
            return
        if self.state == _DONE:
            raise RuntimeError(
                "DistributedDataParallel: a second backward pass through one forward; its "
                "gradients were already all-reduced. Run the forward again for each backward "
                "(or use no_sync() for the passes that only accumulate)"
            )
        if self.ready[i]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self.names[i]} got its gradient twice in "
                "one synchronised step (two backward passes through one forward?)"
            )
        if not self.hooked:
            self.hooked = True
            if not self.backward_began:
                self.backward_began = time.perf_counter()
        self._mark_ready(i, param.grad)
        if not self.rebuilt:
            self.observed.append(i)
        self._start_ready_buckets()
        self._poll()
        if self.next_start == len(self.buckets):
            self._finish()

    def _mark_ready(self, i: int, grad: Tensor | None) -> None:
        bucket = self.bucket_of[i]
        slot = bucket.slots[i]
        if grad is None:
            slot.fill(0)
        else:
            np.copyto(slot, grad.array.numpy())  # a host view on host backends, else a copy
            self.used[i] = 1
        self.ready[i] = True
        bucket.pending -= 1

    def _start_ready_buckets(self) -> None:
        while self.next_start < len(self.buckets) and self.buckets[self.next_start].pending == 0:
            bucket = self.buckets[self.next_start]
            bucket.started = time.perf_counter()
            bucket.work = self.group.allreduce(
                bucket.buffer, ReduceOp.SUM, f"DistributedDataParallel bucket {bucket.index}"
            )
            self.next_start += 1

    def _poll(self) -> None:
        for bucket in self.buckets[: self.next_start]:
            if not bucket.finished and bucket.work.is_completed():
                bucket.finished = time.perf_counter()

    def _finish(self) -> None:
        compute_end = time.perf_counter()
        used = None
        if self.find_unused:
            used = self.used.copy()
            used_work = self.group.allreduce(used, ReduceOp.MAX, "DistributedDataParallel usage")
        for bucket in self.buckets:
            bucket.work.wait()
            if not bucket.finished:
                bucket.finished = time.perf_counter()
        if used is not None:
            used_work.wait()
        end = time.perf_counter()
        size = self.group.size
        for bucket in self.buckets:
            np.divide(bucket.buffer, size, out=bucket.buffer)
            for i in bucket.members:
                if used is not None and not used[i]:
                    continue  # no rank used it: its .grad stays as it was (None)
                p, slot = self.params[i], bucket.slots[i]
                if p.grad is None:
                    p.grad = Tensor._wrap(NDArray.from_numpy(slot, p.device, p.dtype))
                else:
                    write_into(p.grad, slot)
        self.state = _DONE
        self._record(compute_end, end)

    def _record(self, compute_end: float, end: float) -> None:
        begin = self.backward_began or compute_end
        intervals = sorted((b.started, b.finished) for b in self.buckets)
        overlapped, cursor = 0.0, begin
        for start, finish in intervals:
            start, finish = max(start, cursor), min(finish, compute_end)
            if finish > start:
                overlapped += finish - start
                cursor = finish
        self.stats = CommStats(
            backward=compute_end - begin,
            overlapped=overlapped,
            exposed=end - compute_end,
            buckets=len(self.buckets),
            bytes=sum(b.buffer.nbytes for b in self.buckets),
            intervals=[(s - begin, f - begin) for s, f in intervals],
        )


def _tensors_in(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []
