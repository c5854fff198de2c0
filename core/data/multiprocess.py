"""The DataLoader's multi-process iterator: worker processes load batches ahead, the main
process receives them in order and builds their tensors.

Tasks go to the workers round-robin, at most prefetch_factor * num_workers outstanding; a
batch that arrives early waits until those before it have been delivered (in_order=True),
so the batches are those of num_workers=0. Workers stop when an epoch ends (unless
persistent), when the iterator is dropped, at interpreter exit, or on a worker's death;
stopping joins every worker (and terminates one that does not finish in time), so no process
is left behind.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import weakref
from typing import Any

from .collate import from_host
from .dataloader import _BaseIterator
from .dataset import ConcatDataset, Subset, TensorDataset
from .worker import POLL_S, RESUME, ExceptionWrapper, IterableEnd, WorkerConfig, worker_loop

__all__ = ["MultiProcessIterator"]


class _Pool:
    """The worker processes and their queues; `shutdown` ends them all, once, and only in the
    process that started them (a forked child holds a copy it must not act on)."""

    def __init__(self, context: Any, configs: list[WorkerConfig]) -> None:
        self.owner = os.getpid()
        self.closed = False
        self.done_event = context.Event()
        self.result_queue = context.Queue()
        self.index_queues: list[Any] = []
        self.workers: list[Any] = []
        try:
            for config in configs:
                index_queue = context.Queue()
                index_queue.cancel_join_thread()  # never block exit on an unread task
                self.index_queues.append(index_queue)
                worker = context.Process(
                    target=worker_loop,
                    args=(config, index_queue, self.result_queue, self.done_event),
                    name=f"plugrad-data-worker-{config.worker_id}",
                    daemon=True,
                )
                worker.start()
                self.workers.append(worker)
        except BaseException:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        if self.closed or os.getpid() != self.owner:
            return
        self.closed = True
        try:
            self.done_event.set()
            for index_queue in self.index_queues:
                index_queue.put(None)
            for worker in self.workers:
                worker.join(timeout=POLL_S)
        finally:
            for worker in self.workers:
                if worker.is_alive():  # busy in a dataset or stuck: do not wait for it
                    worker.terminate()
                    worker.join(timeout=POLL_S)
                if worker.is_alive():
                    worker.kill()
                    worker.join()
            for q in [*self.index_queues, self.result_queue]:
                q.cancel_join_thread()
                q.close()


def _device_tensors(dataset: Any) -> list[str]:
    """Names of the non-host devices a TensorDataset (or Subset / ConcatDataset of them)
    keeps its tensors on."""
    if isinstance(dataset, TensorDataset):
        return [t.device.name for t in dataset.tensors if not t.device.is_host]
    if isinstance(dataset, Subset):
        return _device_tensors(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        return [name for d in dataset.datasets for name in _device_tensors(d)]
    return []


def _check_can_send(loader: Any, method: str) -> None:
    devices = _device_tensors(loader.dataset)
    if devices:
        raise ValueError(
            f"DataLoader workers get copies of the dataset, whose tensors are on {devices[0]}, "
            "not a host device; keep the dataset's tensors on the host (a host device, or "
            "NumPy arrays) and move each batch to the device in the training loop, or use "
            "num_workers=0"
        )
    if method == "fork":
        return
    for name in ("dataset", "collate_fn", "worker_init_fn"):
        try:
            pickle.dumps(getattr(loader, name))
        except Exception as error:
            raise TypeError(
                f"DataLoader(multiprocessing_context={method!r}) pickles the {name} to send "
                f"it to each worker, and this {name} does not pickle ({error}); define it at "
                "module level (not a lambda, local function or local class), keep tensors "
                "in a TensorDataset or as NumPy arrays, or use the 'fork' start method"
            ) from error


class MultiProcessIterator(_BaseIterator):
    """An epoch over a DataLoader with num_workers > 0 (see the module docstring)."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        from ..backend.registry import get_default_device

        context = loader.multiprocessing_context or multiprocessing.get_context()
        _check_can_send(loader, context.get_start_method())
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        default_device = get_default_device().name
        configs = [
            WorkerConfig(
                loader.dataset,
                self._auto_collation,
                loader.collate_fn,
                loader.drop_last,
                self._base_seed,
                loader.worker_init_fn,
                worker_id,
                loader.num_workers,
                default_device,
            )
            for worker_id in range(loader.num_workers)
        ]
        self._pool = _Pool(context, configs)
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._reset(loader, first=True)

    def _reset(self, loader: Any, first: bool = False) -> None:
        if not first:
            self._start_epoch(loader)
        self._send_idx = 0  # the next task to send
        self._rcvd_idx = 0  # the next task to deliver
        # task -> (worker,) while outstanding, (worker, data) once it arrived out of order
        self._task_info: dict[int, tuple[Any, ...]] = {}
        self._tasks_outstanding = 0
        self._active = [True] * self._num_workers  # False: its IterableDataset is exhausted
        self._worker_tasks = [0] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        if not first:  # persistent workers: drain what an abandoned epoch left in flight
            for index_queue in self._pool.index_queues:
                index_queue.put(RESUME)
            waiting = self._num_workers
            while waiting:
                task, _ = self._get()
                waiting -= task == RESUME
        for _ in range(self._prefetch):
            self._try_put_index()

    def _get(self) -> tuple[Any, Any]:
        while True:
            try:
                return self._pool.result_queue.get(timeout=self._timeout or POLL_S)
            except queue.Empty:
                dead = [w for w, active in zip(self._pool.workers, self._active)
                        if active and not w.is_alive()]  # fmt: skip
                if dead:
                    self.shutdown()
                    lost = ", ".join(f"pid {w.pid}, exit code {w.exitcode}" for w in dead)
                    raise RuntimeError(
                        f"DataLoader worker ({lost}) exited unexpectedly; a dataset or "
                        "collate_fn that crashes the process (or a kill) ends its worker"
                    ) from None
                if self._timeout:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds"
                    ) from None

    def _try_put_index(self) -> None:
        if self._tasks_outstanding >= self._prefetch or not any(self._active):
            return
        # in_order=False: no worker takes more than its share, so a slow one holds few batches
        share = -(-self._prefetch // sum(self._active))
        for _ in range(self._num_workers):  # the worker first: an index drawn is never lost
            worker_id = next(self._cycle)
            if self._active[worker_id] and (
                self._in_order or self._worker_tasks[worker_id] < share
            ):
                break
        else:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        self._pool.index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._worker_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _next_data(self) -> Any:
        while True:
            while self._rcvd_idx < self._send_idx:  # skip tasks of exhausted workers
                info = self._task_info.get(self._rcvd_idx)
                if info is not None:
                    if len(info) == 2 or self._active[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process(data, worker_id)
            task, payload = self._get()
            self._tasks_outstanding -= 1
            data = pickle.loads(payload)
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
                if not self._persistent:
                    self._pool.index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if task == self._rcvd_idx:
                worker_id = self._task_info.pop(task)[0]
                self._rcvd_idx += 1
                return self._process(data, worker_id)
            if not self._in_order:
                return self._process(data, self._task_info.pop(task)[0])
            self._task_info[task] += (data,)

    def _process(self, data: Any, worker_id: int) -> Any:
        self._worker_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return from_host(data)

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def shutdown(self) -> None:
        """Stop and join the workers (also when the iterator is garbage collected)."""
        self._finalizer()
