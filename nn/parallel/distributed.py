"""DistributedDataParallel: one model replica per rank, gradients averaged during backward.

dist.init_process_group()
model = DistributedDataParallel(build_model())   # rank 0's weights on every rank
loss_fn(model(x_shard), y_shard).backward()      # .grad: the average over all ranks
opt.step()                                       # any optimizer, unchanged
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from plugrad.autograd.grad_mode import is_grad_enabled
from plugrad.autograd.tensor import Tensor
from plugrad.distributed.checks import all_gather_object
from plugrad.distributed.process_group import ProcessGroup
from plugrad.distributed.staging import write_into
from plugrad.distributed.world import resolve

from ..module import Module
from .reducer import CommStats, Reducer


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training on every rank of `process_group`.

    At construction the ranks' parameter lists are checked to agree (names, shapes, dtypes)
    and rank 0's parameters and buffers are copied to every rank. During each backward the
    gradients are all-reduced in buckets of about `bucket_cap_mb` MiB as soon as a bucket's
    gradients are ready, and divided by the world size. `broadcast_buffers`: rank 0's buffers
    (BatchNorm's running statistics) are copied to every rank before each forward.
    `find_unused_parameters`: parameters the forward did not reach are marked ready (otherwise
    a backward that gives one of them no gradient never finishes its all-reduce, which the
    next forward reports). `no_sync()`: backward only accumulates, for gradient accumulation.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[int] | None = None,
        output_device: object = None,
        broadcast_buffers: bool = True,
        process_group: ProcessGroup | None = None,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
        init_sync: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}"
            )
        if device_ids is not None or output_device is not None:
            raise ValueError(
                "device_ids and output_device are not used: plugrad runs one replica per "
                "process on the device its parameters are on (move the module with .to())"
            )
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        group = resolve(process_group)
        object.__setattr__(self, "process_group", group)
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._verify_same_layout(group)
        if init_sync and group.size > 1:
            _broadcast_coalesced(group, [p for _, p in module.named_parameters()], 0)
            _broadcast_coalesced(group, self._buffers_to_sync(), 0)
        reducer = Reducer(
            [p for _, p in named], [n for n, _ in named], group,
            int(bucket_cap_mb * (1 << 20)), find_unused_parameters,
        )  # fmt: skip
        object.__setattr__(self, "reducer", reducer)

    def _verify_same_layout(self, group: ProcessGroup) -> None:
        mine = [(n, p.dtype.name, tuple(p.shape), p.requires_grad)
                for n, p in self.module.named_parameters()]  # fmt: skip
        mine += [(f"buffer {n}", b.dtype.name, tuple(b.shape), False)
                 for n, b in self.module.named_buffers()]  # fmt: skip
        everyone = all_gather_object(group, mine, "DistributedDataParallel (layout check)")
        for rank, theirs in enumerate(everyone):
            if theirs == mine:
                continue
            for k in range(max(len(mine), len(theirs))):
                a = mine[k] if k < len(mine) else None
                b = theirs[k] if k < len(theirs) else None
                if a != b:
                    raise ValueError(
                        f"DistributedDataParallel: the ranks' models differ at entry {k}: rank "
                        f"{group.rank} has {_entry(a)}, rank {rank} has {_entry(b)}. Build the "
                        "same model on every rank"
                    )

    def _buffers_to_sync(self) -> list[Tensor]:
        return [b for b in self.module.buffers() if b is not None]

    # --- training --------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        grad_sync = is_grad_enabled() and self.require_backward_grad_sync
        if is_grad_enabled():
            self.reducer.check_finished()
        group = self.process_group
        if self.broadcast_buffers and group.size > 1:
            _broadcast_coalesced(group, self._buffers_to_sync(), 0)
        output = self.module(*inputs, **kwargs)
        if grad_sync:
            self.reducer.prepare(output)
        elif is_grad_enabled():
            self.reducer.disarm()
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards and backwards inside only accumulate .grad locally; the first synchronised
        backward after them all-reduces the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    @property
    def comm_stats(self) -> CommStats:
        """Timings of the last synchronised backward (how much communication overlapped it)."""
        return self.reducer.stats

    def extra_repr(self) -> str:
        return f"world_size={self.process_group.size}, buckets={len(self.reducer.buckets)}"


def _entry(entry: tuple | None) -> str:
    if entry is None:
        return "nothing"
    name, dtype, shape, _ = entry
    return f"{name} {dtype} {shape}"


def _broadcast_coalesced(group: ProcessGroup, tensors: list[Tensor], root: int) -> None:
    """Copy root's tensors to every rank: one broadcast per dtype over a packed host buffer."""
    by_dtype: dict[str, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype.name, []).append(t)
    for members in by_dtype.values():
        packed = np.concatenate([t.detach().array.numpy().reshape(-1) for t in members])
        group.broadcast(packed, root, "DistributedDataParallel broadcast").wait()
        if group.rank == root:
            continue
        offset = 0
        for t in members:
            n = t.numel()
            write_into(t, packed[offset : offset + n])
            offset += n
