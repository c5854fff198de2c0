"""Collectives on tensors of any device and dtype, with torch.distributed's names.

    dist.all_reduce(t)                          # in place, every rank gets the sum
    work = dist.all_reduce(t, op="avg", async_op=True); ...; work.wait()

Blocking calls return None; with async_op=True they return a `Work` (wait(), is_completed()).
The tensors must not be read or written until the Work completes: on host backends MPI works
on their memory directly. In-place results count as writes in the tensors' version counters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import dtypes as dt
from ..autograd.tensor import Tensor
from .checks import agree
from .checks import all_gather_object as gather_objects
from .process_group import ProcessGroup, ReduceOp, Work
from .staging import HostBuffer, host_array, write_into
from .world import resolve

MAX_TAG = 16383  # each user tag becomes two MPI tags (header, data); MPI guarantees 32767


def _reduce_op(op: ReduceOp | str, dtype: dt.DType, call: str) -> ReduceOp:
    if isinstance(op, str):
        try:
            op = ReduceOp(op.lower())
        except ValueError:
            names = ", ".join(o.value for o in ReduceOp)
            raise ValueError(f"{call}: unknown reduce op {op!r}; use one of {names}") from None
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{call}: op must be a ReduceOp or its name, got {type(op).__name__}")
    if op is ReduceOp.AVG and not dtype.is_floating:
        raise TypeError(f"{call}: op avg needs a floating dtype, the tensor is {dtype.name}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.is_floating:
        raise TypeError(f"{call}: op {op.value} needs an integer or bool tensor, got {dtype.name}")
    return op


def _record(call: str, tensor: Tensor, **extra: object) -> dict:
    return {"call": call, "dtype": tensor.dtype.name, "shape": list(tensor.shape), **extra}


def _rank(value: int, group: ProcessGroup, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value < group.size:
        raise ValueError(f"{what} must be a rank in 0..{group.size - 1}, got {value!r}")
    return value


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def _check_tensors(tensors: Sequence[Tensor], like: Tensor, count: int, what: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != count:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{what} must be a list of {count} tensors (one per rank), got {got}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or t.shape != like.shape or t.dtype is not like.dtype:
            shape = getattr(t, "shape", type(t).__name__)
            raise ValueError(
                f"{what}[{i}] must be a tensor of shape {like.shape} and dtype {like.dtype.name} "
                f"like the input, got {shape} {getattr(getattr(t, 'dtype', None), 'name', '')}"
            )


def _stacked(big: Tensor, small: Tensor, size: int, big_name: str, call: str) -> None:
    """big holds `size` blocks of small: shape (size * d0, ...) or (size, *small.shape)."""
    if big.dtype is not small.dtype:
        raise TypeError(f"{call}: dtypes differ ({big.dtype.name} and {small.dtype.name})")
    concatenated = small.shape and big.shape == (size * small.shape[0], *small.shape[1:])
    if not (concatenated or big.shape == (size, *small.shape)):
        want = (size * small.shape[0], *small.shape[1:]) if small.shape else (size,)
        raise ValueError(
            f"{call}: {big_name} must have shape {want} (or {(size, *small.shape)}) for "
            f"{size} ranks of {small.shape}, got {big.shape}"
        )


# --- collectives ---------------------------------------------------------------------------
def all_reduce(
    tensor: Tensor,
    op: ReduceOp | str = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Combine `tensor` across ranks in place: every rank gets the result."""
    g = resolve(group)
    op = _reduce_op(op, tensor.dtype, "all_reduce")
    agree(g, _record("all_reduce", tensor, op=op.value))
    buffer = HostBuffer(tensor, written=True)
    work = g.allreduce(buffer.array, ReduceOp.SUM if op is ReduceOp.AVG else op, "all_reduce")
    if op is ReduceOp.AVG:
        work.then(lambda: np.divide(buffer.array, g.size, out=buffer.array))
    return _finish(work.then(buffer.finish), async_op)


def broadcast(
    tensor: Tensor, src: int = 0, group: ProcessGroup | None = None, async_op: bool = False
) -> Work | None:
    """Every rank's `tensor` gets rank src's values."""
    g = resolve(group)
    _rank(src, g, "broadcast src")
    agree(g, _record("broadcast", tensor, src=src))
    buffer = HostBuffer(tensor, written=g.rank != src)
    return _finish(g.broadcast(buffer.array, src, "broadcast").then(buffer.finish), async_op)


def all_gather(
    tensor_list: list[Tensor],
    tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """tensor_list[r] gets rank r's `tensor`."""
    g = resolve(group)
    _check_tensors(tensor_list, tensor, g.size, "all_gather tensor_list")
    agree(g, _record("all_gather", tensor))
    received = np.empty((g.size, *tensor.shape), dtype=tensor.dtype.numpy)
    work = g.allgather(host_array(tensor), received, "all_gather")

    def scatter_out() -> None:
        for out, values in zip(tensor_list, received):
            write_into(out, values)

    return _finish(work.then(scatter_out), async_op)


def all_gather_into_tensor(
    output_tensor: Tensor,
    input_tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """output_tensor, (world * d0, ...) or (world, *input.shape), gets every rank's input in
    rank order."""
    g = resolve(group)
    _stacked(output_tensor, input_tensor, g.size, "output_tensor", "all_gather_into_tensor")
    agree(g, _record("all_gather_into_tensor", input_tensor))
    out = HostBuffer(output_tensor, written=True)
    work = g.allgather(host_array(input_tensor), out.array, "all_gather_into_tensor")
    return _finish(work.then(out.finish), async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,  # noqa: A002 - torch's name
    op: ReduceOp | str = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """input, (world * d0, ...) or (world, *output.shape), is reduced across ranks and rank r
    gets block r in output."""
    g = resolve(group)
    op = _reduce_op(op, input.dtype, "reduce_scatter_tensor")
    _stacked(input, output, g.size, "input", "reduce_scatter_tensor")
    agree(g, _record("reduce_scatter_tensor", output, op=op.value))
    out = HostBuffer(output, written=True)
    mpi_op = ReduceOp.SUM if op is ReduceOp.AVG else op
    work = g.reduce_scatter(host_array(input), out.array, mpi_op, "reduce_scatter_tensor")
    if op is ReduceOp.AVG:
        work.then(lambda: np.divide(out.array, g.size, out=out.array))
    return _finish(work.then(out.finish), async_op)


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int = 0,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """On rank dst, gather_list[r] gets rank r's tensor; other ranks pass no gather_list."""
    g = resolve(group)
    _rank(dst, g, "gather dst")
    if g.rank == dst:
        _check_tensors(gather_list, tensor, g.size, "gather gather_list")
    elif gather_list is not None:
        raise ValueError(f"gather: gather_list is given only on the destination rank {dst}")
    agree(g, _record("gather", tensor, dst=dst))
    received = np.empty((g.size, *tensor.shape), tensor.dtype.numpy) if g.rank == dst else None
    work = g.gather(host_array(tensor), received, dst, "gather")
    if received is not None:
        work.then(lambda: [write_into(o, v) for o, v in zip(gather_list, received)])
    return _finish(work, async_op)


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int = 0,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Rank r's tensor gets scatter_list[r] from rank src; other ranks pass no scatter_list."""
    g = resolve(group)
    _rank(src, g, "scatter src")
    if g.rank == src:
        _check_tensors(scatter_list, tensor, g.size, "scatter scatter_list")
    elif scatter_list is not None:
        raise ValueError(f"scatter: scatter_list is given only on the source rank {src}")
    agree(g, _record("scatter", tensor, src=src))
    sent = None
    if g.rank == src:
        sent = np.stack([host_array(t) for t in scatter_list])
    out = HostBuffer(tensor, written=True)
    return _finish(g.scatter(sent, out.array, src, "scatter").then(out.finish), async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Wait until every rank has reached the barrier."""
    return _finish(resolve(group).barrier("barrier"), async_op)


# --- point to point ------------------------------------------------------------------------
def _tags(tag: int) -> tuple[int, int]:
    if not isinstance(tag, int) or not 0 <= tag <= MAX_TAG:
        raise ValueError(f"tag must be an integer in 0..{MAX_TAG}, got {tag!r}")
    return 2 * tag, 2 * tag + 1


def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> Work:
    """Start sending `tensor` to rank dst; the receiver checks its shape and dtype."""
    from .checks import encode

    g = resolve(group)
    _rank(dst, g, "send dst")
    data_tag, header_tag = _tags(tag)
    header = encode(_record("send", tensor, tag=tag))
    header_work = g.send(header, dst, header_tag, "send (header)")
    data_work = g.send(host_array(tensor), dst, data_tag, f"send to rank {dst}")
    return Work(
        lambda: header_work.is_completed() and data_work.is_completed(),
        f"send to rank {dst} (tag {tag})", g.timeout,
    )  # fmt: skip


def irecv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0
) -> Work:
    """Start receiving into `tensor` from rank src (None: any rank); `work.result()` is the
    sender. A sent tensor of another shape or dtype raises, naming both."""
    g = resolve(group)
    if src is not None:
        _rank(src, g, "recv src")
    return _Receive(tensor, src, g, tag).work


class _Receive:
    """Header first (it names the sender and what it sent), then the data from that sender."""

    def __init__(self, tensor: Tensor, src: int | None, group: ProcessGroup, tag: int) -> None:
        from .checks import RECORD_BYTES

        self.tensor, self.group, self.tag = tensor, group, tag
        self.data_tag, header_tag = _tags(tag)
        self.out = HostBuffer(tensor, written=True)
        self.header = np.zeros(RECORD_BYTES, dtype=np.uint8)
        self.header_work = group.recv(self.header, src, header_tag, "recv (header)")
        self.data_work: Work | None = None
        self.source: int | None = None
        where = "any rank" if src is None else f"rank {src}"
        self.work = Work(self.test, f"recv from {where} (tag {tag})", group.timeout,
                         on_complete=self.complete)  # fmt: skip

    def test(self) -> bool:
        if self.data_work is None:
            if not self.header_work.is_completed():
                return False
            from .checks import CollectiveMismatchError, decode, describe

            self.source = self.header_work.result()
            sent = decode(self.header)
            if sent["dtype"] != self.tensor.dtype.name or tuple(sent["shape"]) != self.tensor.shape:
                # Take the data off the wire, so the channel stays in step for later messages.
                drain = np.empty(sent["shape"], dtype=dt.as_dtype(sent["dtype"]).numpy)
                self.group.recv(drain, self.source, self.data_tag, "recv (discarded)").wait()
                raise CollectiveMismatchError(
                    f"recv: rank {self.source} sent {describe(sent)} but rank {self.group.rank} "
                    f"receives into {self.tensor.dtype.name} {self.tensor.shape}; pass a tensor "
                    "of the sent shape and dtype"
                )
            self.data_work = self.group.recv(self.out.array, self.source, self.data_tag, "recv")
        return self.data_work.is_completed()

    def complete(self) -> int:
        self.out.finish()
        return self.source


def send(
    tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0,
    async_op: bool = False,
) -> Work | None:  # fmt: skip
    """Send `tensor` to rank dst (blocks until the data has left unless async_op)."""
    return _finish(isend(tensor, dst, group, tag), async_op)


def recv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
    async_op: bool = False,
) -> int | Work:  # fmt: skip
    """Receive into `tensor`; returns the sender's rank (or, with async_op, the Work)."""
    work = irecv(tensor, src, group, tag)
    return work if async_op else work.result()


# --- Python objects ------------------------------------------------------------------------
def all_gather_object(object_list: list, obj: object, group: ProcessGroup | None = None) -> None:
    """object_list[r] becomes rank r's picklable obj (object_list has world-size entries)."""
    g = resolve(group)
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of {g.size} entries")
    object_list[:] = gather_objects(g, obj, "all_gather_object")


def broadcast_object_list(
    object_list: list, src: int = 0, group: ProcessGroup | None = None
) -> None:
    """Every rank's object_list becomes rank src's (picklable entries, same length)."""
    import pickle

    g = resolve(group)
    _rank(src, g, "broadcast_object_list src")
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list takes a list, got {type(object_list).__name__}")
    payload = np.frombuffer(pickle.dumps(object_list), dtype=np.uint8) if g.rank == src else None
    length = np.array([0 if payload is None else payload.size], dtype=np.int64)
    g.broadcast(length, src, "broadcast_object_list (size)").wait()
    data = payload.copy() if payload is not None else np.empty(int(length[0]), dtype=np.uint8)
    g.broadcast(data, src, "broadcast_object_list").wait()
    object_list[:] = pickle.loads(data.tobytes())  # noqa: S301 - from a rank of this job
