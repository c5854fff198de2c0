"""DataLoader(num_workers=N): worker processes give the batches of num_workers=0, seeded from
the loader's generator, with errors, timeouts and shutdown as torch's.

The datasets are module-level classes so that spawned workers can unpickle them. This module
does not import torch, so a spawned worker (which imports it) starts quickly."""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest

import plugrad
from plugrad import random_stream as rs
from plugrad.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker tests use fork (POSIX)")


class Kinds(Dataset):
    """Sample i holds every kind default_collate batches: array, int, float, bool, str."""

    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {"x": np.full((2,), i, dtype=np.float32), "i": i, "f": i / 4,
                "b": i % 2 == 0, "name": f"s{i}"}  # fmt: skip


class Seeded(Dataset):
    """Sample i: (x[i], y[i]) from a TensorDataset (pickled to spawned workers), the worker's
    id and seed, and one uniform drawn from the worker's default generator."""

    def __init__(self, n=10):
        x = plugrad.arange(3 * n, dtype=plugrad.float64, device="c_cpu").reshape(n, 3)
        self.data = TensorDataset(x, plugrad.arange(n, device="c_cpu"))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        info = get_worker_info()
        u = plugrad.rand((), dtype=plugrad.float64).item()
        return (*self.data[i], -1 if info is None else info.id, 0 if info is None else info.seed, u)


class Pids(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return i, os.getpid()


def worker_pids(loader):
    return {int(p) for _, pids in loader for p in pids.tolist()}


def batches_as_lists(loader):
    """Every batch as plain values, with each tensor's dtype and device."""

    def plain(x):
        if isinstance(x, plugrad.Tensor):
            return (x.tolist(), x.dtype.name, x.device.name)
        if isinstance(x, np.ndarray):
            return ("numpy", x.tolist(), x.dtype.name)
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (tuple, list)):
            return type(x)(plain(v) for v in x)
        return x

    return [plain(b) for b in loader]


def uniform(seed, call):
    """The k-th plugrad.rand((), float64) of a generator seeded with `seed`."""
    return float(rs.draw("uniform", (), (0.0, 1.0), rs.call_seed(seed, call)))


def base_seed(generator_seed, call):
    """The base seed an epoch draws as call `call` of the loader's generator."""
    return int(rs.integers((), 1 << 63, rs.call_seed(generator_seed, call)))


@pytest.mark.parametrize("num_workers", [1, 2])
def test_batches_equal_those_of_num_workers_0(device, num_workers):
    if not device.backend.is_host:
        pytest.skip("workers take host datasets (a device dataset is refused: tested below)")
    x = plugrad.arange(60, dtype=plugrad.float32, device=device).reshape(20, 3)
    tensors = TensorDataset(x, plugrad.arange(20, device=device))
    (x @ x.T).sum()  # c_cpu's OpenMP threads have started before the fork
    cases = [(tensors, {}), (Kinds(), {}), (tensors, {"batch_size": None}),
             (Kinds(), {"drop_last": True}), (Kinds(), {"collate_fn": list})]  # fmt: skip
    for dataset, kw in cases:
        kw = {"batch_size": 3, "shuffle": True, **kw}
        expected = batches_as_lists(DataLoader(dataset, generator=plugrad.Generator(4), **kw))
        loader = DataLoader(dataset, generator=plugrad.Generator(4), num_workers=num_workers, **kw)
        assert batches_as_lists(loader) == expected
        assert len(loader) == len(expected)
    xb, yb = next(iter(DataLoader(tensors, batch_size=4, num_workers=num_workers)))
    assert xb.device is device and yb.dtype is plugrad.int64 and yb.tolist() == [0, 1, 2, 3]


def seeded_epoch(num_workers, context=None, batch_size=2, epochs=1, **kw):
    loader = DataLoader(Seeded(), batch_size=batch_size, shuffle=True, num_workers=num_workers,
                        generator=plugrad.Generator(9), multiprocessing_context=context,
                        **kw)  # fmt: skip
    return [list(loader) for _ in range(epochs)]


def check_seeding(epoch, num_workers, base, batch_size=2):
    """Batch b comes from worker b % N, its k-th sample (1-based, in that worker) draws the
    k-th uniform of plugrad.manual_seed(base_seed + worker id)."""
    for b, (_, _, ids, seeds, u) in enumerate(epoch):
        worker = b % num_workers
        assert ids.tolist() == [worker] * len(ids) and seeds.tolist() == [base + worker] * len(ids)
        first = (b // num_workers) * batch_size + 1
        assert u.tolist() == [uniform(base + worker, first + j) for j in range(len(u))]


def test_workers_are_seeded_from_the_loaders_generator():
    """The epoch draws its order (call 1) and its base seed (call 2) from the generator."""
    (epoch,) = seeded_epoch(2)
    check_seeding(epoch, 2, base_seed(9, 2))
    (again,) = seeded_epoch(2)
    assert [b[4].tolist() for b in again] == [b[4].tolist() for b in epoch]
    order = rs.permutation(10, rs.call_seed(9, 1)).tolist()
    assert [i for b in epoch for i in b[1].tolist()] == order
    (main,) = seeded_epoch(0)
    assert [b[1].tolist() for b in main] == [b[1].tolist() for b in epoch]
    assert set(main[0][2].tolist()) == {-1}  # get_worker_info() is None in the main process


@pytest.mark.parametrize("context, num_workers", [("spawn", 1), ("spawn", 2), ("forkserver", 1)])
def test_spawned_workers_unpickle_the_dataset_and_give_the_same_batches(context, num_workers):
    """Few of these: each spawned worker imports plugrad (about a second). The workers
    persist, so two epochs start them once; their seeds are those of the first epoch."""
    if context not in plugrad_start_methods():
        pytest.skip(f"this platform has no {context!r} start method")
    epochs = seeded_epoch(num_workers, context, epochs=2, persistent_workers=True)
    main = seeded_epoch(0, epochs=2)
    for got, expected in zip(epochs, main):
        assert [b[0].tolist() for b in got] == [b[0].tolist() for b in expected]
        assert [b[1].tolist() for b in got] == [b[1].tolist() for b in expected]
        assert got[0][0].device.name == "c_cpu" and got[0][0].dtype is plugrad.float64
    check_seeding(epochs[0], num_workers, base_seed(9, 2))
    assert epochs[1][0][3].tolist()[0] == base_seed(9, 2)  # the persistent workers' seed


def plugrad_start_methods():
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def test_spawn_names_what_does_not_pickle():
    loader = DataLoader(Kinds(), num_workers=1, multiprocessing_context="spawn",
                        collate_fn=lambda batch: batch)  # fmt: skip
    with pytest.raises(TypeError, match=r"pickles the collate_fn .*module level"):
        iter(loader)


class WorkerFacts(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a = plugrad.arange(64, dtype=plugrad.float64, device="c_cpu").reshape(8, 8)
            product = (a @ a).numpy()
        return {"id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "own_copy": info.dataset is self, "init": int(os.environ["INIT_MARK"]),
                "threads": plugrad.get_num_threads(), "warnings": len(caught),
                "product": product}  # fmt: skip


def mark_worker(worker_id):
    info = get_worker_info()
    os.environ["INIT_MARK"] = str(100 + worker_id + 10 * info.num_workers)


def test_worker_init_fn_and_get_worker_info():
    a = plugrad.arange(64, dtype=plugrad.float64, device="c_cpu").reshape(8, 8)
    (a @ a).sum()
    loader = DataLoader(WorkerFacts(), batch_size=2, num_workers=2, worker_init_fn=mark_worker,
                        generator=plugrad.Generator(5))  # fmt: skip
    batches = list(loader)
    base = base_seed(5, 1)  # no shuffle: the base seed is the epoch's first call
    for b, batch in enumerate(batches):
        worker = b % 2
        assert batch["id"].tolist() == [worker, worker]
        assert (
            batch["num_workers"].tolist() == [2, 2]
            and batch["seed"].tolist() == [base + worker] * 2
        )
        assert batch["own_copy"].tolist() == [True, True]
        assert batch["init"].tolist() == [120 + worker] * 2
        # c_cpu computes single-threaded in a forked worker, correctly, without a warning
        assert batch["threads"].tolist() == [1, 1] and batch["warnings"].tolist() == [0, 0]
        expected = (a.numpy() @ a.numpy())[None].repeat(2, 0)
        np.testing.assert_allclose(batch["product"].numpy(), expected)
    assert get_worker_info() is None


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"sample {i} is corrupt")
        if i == 5:
            raise KeyError("missing\nkey")
        if i == 7:
            raise TwoArgumentError("a", "b")
        return i


class TwoArgumentError(Exception):
    def __init__(self, first, second):
        super().__init__(first, second)


def test_worker_errors_are_raised_in_the_main_process_with_the_workers_traceback():
    it = iter(DataLoader(Failing(), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError) as caught:
        next(it)
    message = str(caught.value)
    assert "Caught ValueError in DataLoader worker process 1" in message
    assert "sample 3 is corrupt" in message and "in __getitem__" in message
    assert "test_workers.py" in message  # the worker's traceback, down to the dataset
    with pytest.raises(KeyError) as caught:  # the iterator goes on after an error, as torch
        next(it)
    assert "process 0.\nOriginal Traceback" in str(caught.value)  # as written, not a repr
    with pytest.raises(RuntimeError, match="Caught TwoArgumentError in DataLoader worker"):
        next(it)  # a type that cannot be rebuilt from one message
    with pytest.raises(StopIteration):
        next(it)


def failing_init(worker_id):
    raise OSError(f"worker {worker_id} could not open its files")


class Unpicklable(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return threading.Lock()


def test_a_failing_worker_init_fn_and_an_unpicklable_batch_are_errors():
    loader = DataLoader(Kinds(), batch_size=4, num_workers=1, worker_init_fn=failing_init)
    with pytest.raises(OSError, match="worker 0 could not open its files"):
        list(loader)
    loader = DataLoader(Unpicklable(), batch_size=None, num_workers=1)
    with pytest.raises(TypeError, match="could not pickle batch 0 .* NumPy arrays"):
        list(loader)


class Dies(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            os._exit(7)
        return i


class DiesOnce(Dataset):
    """Kills its worker at sample 2 the first time; `marker` records that it did."""

    def __init__(self, marker):
        self.marker = marker

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(3)
        if i == 4:
            raise StopIteration  # from a map-style dataset: an error, not the epoch's end
        return i


class Blocks(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            threading.Event().wait()  # forever: only the timeout gets the main process out
        return i


def test_a_dead_worker_and_a_timeout_are_errors_and_leave_no_process(tmp_path):
    # prefetch_factor=1: a worker that dies loses the results its queue had not yet sent, so
    # send it index 2 only once 0 and 1 have arrived
    it = iter(DataLoader(Dies(), batch_size=None, num_workers=1, prefetch_factor=1))
    assert [next(it), next(it)] == [0, 1]
    with pytest.raises(RuntimeError, match=r"worker \(pid \d+, exit code 7\) exited unexpectedly"):
        next(it)
    assert all(not w.is_alive() and w.exitcode == 7 for w in it._pool.workers)
    loader = DataLoader(DiesOnce(str(tmp_path / "died")), batch_size=None, num_workers=1,
                        prefetch_factor=1, persistent_workers=True)  # fmt: skip
    with pytest.raises(RuntimeError, match="exit code 3"):
        list(loader)
    it = iter(loader)  # the persistent workers died: the next epoch starts new ones
    assert [next(it) for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="Caught StopIteration in DataLoader worker"):
        next(it)
    assert next(it) == 5
    it = iter(DataLoader(Blocks(), batch_size=None, num_workers=1, timeout=0.5))
    assert next(it) == 0
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        next(it)
    workers = it._pool.workers
    del it  # the blocked worker is terminated, and reaped
    assert all(w.exitcode is not None for w in workers)


def gone(pid):
    """The process has exited and been reaped (no zombie left)."""
    return not os.path.exists(f"/proc/{pid}")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc to find zombies")
def test_workers_end_with_the_epoch_or_when_the_iterator_is_dropped():
    loader = DataLoader(Pids(), batch_size=2, num_workers=2)
    first, second = worker_pids(loader), worker_pids(loader)
    assert len(first) == 2 and first.isdisjoint(second)  # new workers each epoch
    assert all(gone(pid) for pid in first | second)
    big = TensorDataset(plugrad.zeros(64, 256, 256, dtype=plugrad.float64))  # 512 KiB a sample
    for dataset in (Pids(), big):
        it = iter(DataLoader(dataset, batch_size=2, num_workers=2, prefetch_factor=3))
        next(it)
        pids = [w.pid for w in it._pool.workers]
        del it  # abandoned mid-epoch, with batches in flight: the workers still end
        assert all(gone(pid) for pid in pids)


def test_persistent_workers_serve_every_epoch_in_order():
    def run(num_workers, **kw):
        loader = DataLoader(Pids(), batch_size=3, shuffle=True, num_workers=num_workers,
                            generator=plugrad.Generator(2), **kw)  # fmt: skip
        epochs, pids = [], set()
        for epoch in range(4):
            batches = []
            for i, p in loader:
                batches.append(i.tolist())
                pids |= set(p.tolist())
                if epoch == 1:
                    break  # abandoned: the next epoch drains what was in flight
            epochs.append(batches)
        return epochs, pids

    expected, _ = run(0)
    epochs, pids = run(2, persistent_workers=True, prefetch_factor=2)
    assert epochs == expected and len(pids) == 2
    assert run(2)[0] == expected


class Stream(IterableDataset):
    """0 .. n-1; sharded between workers when `shard`."""

    def __init__(self, n, shard):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if self.shard and info is not None:
            return iter(range(info.id, self.n, info.num_workers))
        return iter(range(self.n))


def test_an_iterable_dataset_is_copied_to_each_worker_unless_it_shards():
    whole = [b.tolist() for b in DataLoader(Stream(7, False), batch_size=3, num_workers=2)]
    # each worker streams everything; batches alternate between the workers
    assert whole == [[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5], [6], [6]]
    sharded = [b.tolist() for b in DataLoader(Stream(7, True), batch_size=2, num_workers=2)]
    assert sharded == [[0, 2], [1, 3], [4, 6], [5]]
    dropped = DataLoader(Stream(7, True), batch_size=2, num_workers=2, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 2], [1, 3], [4, 6]]
    single = DataLoader(Stream(7, True), batch_size=2, num_workers=2, persistent_workers=True)
    assert [[b.tolist() for b in single] for _ in range(2)] == [sharded, sharded]
    assert [b.tolist() for b in DataLoader(Stream(5, False), batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_in_order_false_and_pin_memory_deliver_the_same_batches():
    expected = sorted(b.tolist() for b in DataLoader(Kinds(), batch_size=2, collate_fn=ints))
    loader = DataLoader(Kinds(), batch_size=2, num_workers=2, in_order=False, collate_fn=ints)
    assert sorted(b.tolist() for b in loader) == expected
    pinned = DataLoader(Kinds(), batch_size=2, num_workers=2, pin_memory=True, collate_fn=ints)
    assert [b.tolist() for b in pinned] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10]]


def ints(samples):
    """A collate_fn returning a NumPy array: it stays one, as with num_workers=0."""
    return np.array([s["i"] for s in samples])


def test_batches_of_a_non_host_device_are_refused_with_the_fix():
    from plugrad.backend.registry import unregister_backend
    from plugrad_numpy_ref.backend import NumpyRefBackend

    backend = NumpyRefBackend()
    backend.name, backend.is_host = "far_away", False
    device = plugrad.register_backend(backend)
    try:
        dataset = TensorDataset(plugrad.zeros(4, 2, device=device))
        with pytest.raises(ValueError, match="on far_away, not a host device.*num_workers=0"):
            iter(DataLoader(dataset, num_workers=1))
    finally:
        unregister_backend("far_away")


EXIT_SCRIPT = """
import plugrad
from plugrad.data import DataLoader, TensorDataset

ds = TensorDataset(plugrad.arange(100, dtype=plugrad.float32).reshape(50, 2))
persistent = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True)
list(persistent)  # idle workers, kept for the next epoch
kept = iter(DataLoader(ds, batch_size=4, num_workers=2))
next(kept)  # mid-epoch when the interpreter exits
dropped = iter(DataLoader(ds, batch_size=4, num_workers=2))
next(dropped)
pids = [w.pid for it in (persistent._iterator, kept, dropped) for w in it._pool.workers]
del dropped
print(*pids, flush=True)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc to find stray workers")
def test_the_interpreter_exits_cleanly_with_workers_alive():
    """Workers of live iterators end at exit, quietly; the timeout only guards a hang."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 6 and all(gone(pid) for pid in pids)
