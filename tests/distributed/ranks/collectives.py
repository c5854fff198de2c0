"""Every collective on every dtype and device against NumPy (run on N ranks by
tests/distributed/test_collectives.py; argv[1]: the folder for the results)."""

from __future__ import annotations

import functools
from datetime import timedelta

import numpy as np
from recorder import Recorder, close, register_staged_device

import plugrad
import plugrad.distributed as dist
from plugrad import dtypes as dt

dist.init_process_group()
rank, size = dist.get_rank(), dist.get_world_size()
rec = Recorder(rank)
DEVICES = ["c_cpu", "numpy_ref", register_staged_device()]
UFUNCS = {"sum": np.add, "product": np.multiply, "min": np.minimum, "max": np.maximum,
          "band": np.bitwise_and, "bor": np.bitwise_or, "bxor": np.bitwise_xor}  # fmt: skip


def values(r: int, dtype: dt.DType, shape: tuple = (3, 4), salt: int = 0) -> np.ndarray:
    """Rank r's data, known to every rank (the oracle recomputes the other ranks' inputs)."""
    rng = np.random.default_rng(1000 * salt + r)
    if dtype is dt.bool_:
        return rng.random(shape) < 0.5
    if dtype.is_floating:
        return rng.uniform(0.5, 1.5, shape).astype(dtype.numpy)  # products stay in range
    return rng.integers(-50, 50, shape).astype(dtype.numpy)


def everyone(dtype: dt.DType, shape: tuple = (3, 4), salt: int = 0) -> list[np.ndarray]:
    return [values(r, dtype, shape, salt) for r in range(size)]


def ops_for(dtype: dt.DType) -> list[str]:
    ops = ["sum", "product", "min", "max"]
    return ops + (["avg"] if dtype.is_floating else ["band", "bor", "bxor"])


for device in DEVICES:
    declared = plugrad.backend.get_device(device).backend.dtypes
    for dtype in (d for d in dt.ALL.values() if d.name in declared):
        tag = f"{device}-{dtype.name}"
        for op in ops_for(dtype):
            with rec.check(f"all_reduce-{op}-{tag}"):
                t = plugrad.tensor(values(rank, dtype), dtype=dtype, device=device)
                before = t._version
                assert dist.all_reduce(t, op=op) is None
                inputs = everyone(dtype)
                if op == "avg":
                    expected = functools.reduce(np.add, inputs) / size
                else:
                    expected = functools.reduce(UFUNCS[op], inputs)
                close(t.numpy(), expected.astype(dtype.numpy), dtype, op)
                assert t._version == before + 1, "an all_reduce counts as an in-place write"

        with rec.check(f"all_reduce-async-strided-view-{tag}"):
            base = plugrad.tensor(values(rank, dtype, (4, 6)), dtype=dtype, device=device)
            view = base[:, ::2]  # every other column: MPI gets a compact copy, written back
            work = dist.all_reduce(view, op="max", async_op=True)
            work.wait()
            assert work.is_completed()
            inputs = everyone(dtype, (4, 6))
            expected = values(rank, dtype, (4, 6))
            expected[:, ::2] = functools.reduce(np.maximum, [a[:, ::2] for a in inputs])
            close(base.numpy(), expected, dtype, "only the view's elements change")

        with rec.check(f"broadcast-{tag}"):
            t = plugrad.tensor(values(rank, dtype), dtype=dtype, device=device)
            dist.broadcast(t, src=size - 1)
            close(t.numpy(), values(size - 1, dtype), dtype, "broadcast")

        with rec.check(f"all_gather-{tag}"):
            outs = [plugrad.zeros(3, 4, dtype=dtype, device=device) for _ in range(size)]
            mine = plugrad.tensor(values(rank, dtype), dtype=dtype, device=device)
            dist.all_gather(outs, mine, async_op=True).wait()
            for r in range(size):
                close(outs[r].numpy(), values(r, dtype), dtype, f"block {r}")

        with rec.check(f"all_gather_into_tensor-{tag}"):
            mine = plugrad.tensor(values(rank, dtype), dtype=dtype, device=device)
            flat = plugrad.zeros(3 * size, 4, dtype=dtype, device=device)
            stacked = plugrad.zeros(size, 3, 4, dtype=dtype, device=device)
            dist.all_gather_into_tensor(flat, mine)
            dist.all_gather_into_tensor(stacked, mine)
            close(flat.numpy(), np.concatenate(everyone(dtype)), dtype, "concatenated")
            close(stacked.numpy(), np.stack(everyone(dtype)), dtype, "stacked")

        for op in ["sum", "max"] + (["avg"] if dtype.is_floating else []):
            with rec.check(f"reduce_scatter_tensor-{op}-{tag}"):
                full = plugrad.tensor(values(rank, dtype, (2 * size, 3)), dtype=dtype,
                                      device=device)  # fmt: skip
                out = plugrad.zeros(2, 3, dtype=dtype, device=device)
                dist.reduce_scatter_tensor(out, full, op=op)
                inputs = everyone(dtype, (2 * size, 3))
                if op == "avg":
                    total = functools.reduce(np.add, inputs) / size
                else:
                    total = functools.reduce(UFUNCS[op], inputs)
                close(out.numpy(), total[2 * rank : 2 * rank + 2].astype(dtype.numpy), dtype, op)

        with rec.check(f"gather-{tag}"):
            dst = 1 % size
            mine = plugrad.tensor(values(rank, dtype), dtype=dtype, device=device)
            outs = [plugrad.zeros(3, 4, dtype=dtype, device=device) for _ in range(size)]
            dist.gather(mine, outs if rank == dst else None, dst=dst)
            if rank == dst:
                for r in range(size):
                    close(outs[r].numpy(), values(r, dtype), dtype, f"from rank {r}")

        with rec.check(f"scatter-{tag}"):
            pieces = None
            if rank == 0:
                pieces = [plugrad.tensor(values(r, dtype, salt=7), dtype=dtype, device=device)
                          for r in range(size)]  # fmt: skip
            out = plugrad.zeros(3, 4, dtype=dtype, device=device)
            dist.scatter(out, pieces, src=0, async_op=True).wait()
            close(out.numpy(), values(rank, dtype, salt=7), dtype, "scatter")

        with rec.check(f"send-recv-ring-{tag}"):
            right, left = (rank + 1) % size, (rank - 1) % size
            outgoing = plugrad.tensor(values(rank, dtype, salt=3), dtype=dtype, device=device)
            incoming = plugrad.zeros(3, 4, dtype=dtype, device=device)
            sending = dist.isend(outgoing, right, tag=5)
            sender = dist.recv(incoming, src=None, tag=5)
            sending.wait()
            assert sender == left, f"recv from any rank returns the sender ({sender} != {left})"
            close(incoming.numpy(), values(left, dtype, salt=3), dtype, "ring")

        with rec.check(f"irecv-from-{tag}"):
            if rank == 0:
                works = [dist.irecv(plugrad.zeros(2, dtype=dtype, device=device), src=r, tag=6)
                         for r in range(1, size)]  # fmt: skip
                assert [w.result() for w in works] == list(range(1, size))
            else:
                dist.send(plugrad.tensor(values(rank, dtype, (2,)), dtype=dtype, device=device),
                          0, tag=6)  # fmt: skip

# The dtypes other engineers are adding (int8..uint8, float16, bfloat16) reach MPI as NumPy
# buffers: checked here on the process group itself, so they work the day they land.
group = dist.world.default_group()
for np_name in ("int8", "int16", "int32", "uint8", "float16", "bfloat16"):
    try:
        np_dtype = np.dtype(np_name)
    except TypeError:
        try:
            import ml_dtypes
        except ImportError:
            continue  # bfloat16 comes from ml_dtypes, which is not installed here
        np_dtype = np.dtype(getattr(ml_dtypes, np_name))
    for op, ufunc in (("sum", np.add), ("max", np.maximum)):
        with rec.check(f"process-group-{op}-{np_name}"):
            inputs = [np.random.default_rng(r).integers(0, 4, 1000).astype(np_dtype)
                      for r in range(size)]  # fmt: skip
            buffer = inputs[rank].copy()
            group.allreduce(buffer, dist.ReduceOp(op), "all_reduce").wait()
            expected = functools.reduce(ufunc, inputs)
            np.testing.assert_array_equal(buffer.astype(np.float64), expected.astype(np.float64))
    with rec.check(f"process-group-gather-{np_name}"):
        mine = np.full(5, rank + 1).astype(np_dtype)
        out = np.zeros(5 * size, dtype=np_dtype)
        group.allgather(mine, out, "all_gather").wait()
        expected = np.repeat(np.arange(1, size + 1), 5).astype(np_dtype)
        np.testing.assert_array_equal(out.astype(np.float64), expected.astype(np.float64))

with rec.check("objects-all_gather_object-broadcast_object_list"):
    gathered = [None] * size
    dist.all_gather_object(gathered, {"rank": rank, "name": "r" * (rank + 1)})
    assert gathered == [{"rank": r, "name": "r" * (r + 1)} for r in range(size)], gathered
    objects = [rank, "from", (rank,)] if rank == size - 1 else [None, None, None]
    dist.broadcast_object_list(objects, src=size - 1)
    assert objects == [size - 1, "from", (size - 1,)], objects

with rec.check("barrier"):
    work = dist.barrier(async_op=True)
    assert work.wait() is True and work.is_completed()

with rec.check("mismatched-dtype-is-named"):
    t = plugrad.ones(4, dtype=plugrad.float64 if rank == 1 else plugrad.float32)
    try:
        dist.all_reduce(t)
    except dist.CollectiveMismatchError as error:
        text = str(error)
        assert "all_reduce" in text and "rank 1: all_reduce float64 (4,)" in text, text
        assert "rank 0: all_reduce float32 (4,)" in text, text
    else:
        raise AssertionError("a dtype mismatch across ranks was not caught")

with rec.check("mismatched-shape-is-named"):
    t = plugrad.ones(3 if rank == 0 else 4)
    try:
        dist.broadcast(t, src=0)
    except dist.CollectiveMismatchError as error:
        assert "rank 0: broadcast float32 (3,)" in str(error), str(error)
        assert "rank 1: broadcast float32 (4,)" in str(error), str(error)
    else:
        raise AssertionError("a shape mismatch across ranks was not caught")

with rec.check("mismatched-op-is-named"):
    try:
        dist.all_reduce(plugrad.ones(2), op="max" if rank == 0 else "sum")
    except dist.CollectiveMismatchError as error:
        assert "op=max" in str(error) and "op=sum" in str(error), str(error)
    else:
        raise AssertionError("an op mismatch across ranks was not caught")

with rec.check("recv-of-another-shape-is-named"):
    if rank == 0:
        dist.send(plugrad.ones(2, 3), 1, tag=8)
    elif rank == 1:
        try:
            dist.recv(plugrad.zeros(6), src=0, tag=8)
        except dist.CollectiveMismatchError as error:
            assert "rank 0 sent send float32 (2, 3)" in str(error), str(error)
        else:
            raise AssertionError("a recv into a tensor of another shape was not caught")

with rec.check("bad-arguments-raise-locally"):
    for call, message in [
        (lambda: dist.all_reduce(plugrad.ones(2, dtype=plugrad.int64), op="avg"), "floating"),
        (lambda: dist.all_reduce(plugrad.ones(2), op="median"), "unknown reduce op"),
        (lambda: dist.broadcast(plugrad.ones(2), src=size), "rank in 0.."),
        (lambda: dist.all_gather([plugrad.ones(2)], plugrad.ones(2)), f"list of {size}"),
        (lambda: dist.all_gather_into_tensor(plugrad.ones(5), plugrad.ones(2)), "must have shape"),
        (lambda: dist.send(plugrad.ones(2), 0, tag=-1), "tag must be"),
    ]:
        try:
            call()
        except (ValueError, TypeError) as error:
            assert message in str(error), (message, str(error))
        else:
            raise AssertionError(f"no error for a call that should say {message!r}")

with rec.check("wait-timeout-names-the-call"):
    work = dist.irecv(plugrad.zeros(1), src=(rank + 1) % size, tag=99)  # sent only later
    timed_out = ""
    try:
        work.wait(timeout=timedelta(seconds=0.5))
    except dist.DistributedTimeoutError as error:
        timed_out = str(error)
    dist.barrier()  # every rank has waited in vain; now send what they wait for
    late = dist.isend(plugrad.ones(1), (rank - 1) % size, tag=99)
    work.wait()
    late.wait()
    assert "recv from rank" in timed_out and "0.5 s" in timed_out, timed_out

with rec.check("world"):
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    try:
        dist.init_process_group()
    except RuntimeError as error:
        assert "already" in str(error)
    else:
        raise AssertionError("a second init_process_group was accepted")

dist.barrier()
rec.write()
