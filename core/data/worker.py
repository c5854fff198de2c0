"""The DataLoader's worker process: its seeding, `get_worker_info()`, and its loop.

A worker receives `(task, index)` messages on its own index queue and answers
`(task, payload)` on the shared result queue, where payload is the pickled batch in host form
(plugrad.data.collate: NumPy data and names, never a tensor), an `ExceptionWrapper` for an
error with the worker's traceback, or `IterableEnd` when its IterableDataset is exhausted.
`RESUME` starts a new epoch of a persistent worker (acknowledged with `(RESUME, id)`); None
ends it. A worker also exits when the process that started it is gone.

Seeding, as torch: the main process draws one `base_seed` per epoch from the loader's
generator; worker `id` runs `plugrad.manual_seed(base_seed + id)` (and seeds Python's and
NumPy's global generators), so random transforms differ between workers and repeat with the
generator's seed.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

POLL_S = 1.0  # how often a waiting worker (or the main process) checks on the other side
RESUME = "plugrad.data.resume"


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id (0 .. num_workers - 1), the
    number of workers, its seed (base_seed + id) and its own copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process; None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class IterableEnd:
    """A worker's IterableDataset is exhausted for this epoch."""

    worker_id: int


class _KeyErrorMessage(str):
    """A KeyError's message shown as written (KeyError prints the repr of its argument)."""

    def __repr__(self) -> str:
        return str(self)


class ExceptionWrapper:
    """An exception raised in a worker, re-raised in the main process as the same type with
    the worker's traceback in its message (RuntimeError where the type cannot be rebuilt)."""

    def __init__(self, error: BaseException, where: str) -> None:
        self.exc_type: type[BaseException] = type(error)
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        self.message = (
            f"Caught {self.exc_type.__name__} {where}.\nOriginal {''.join(lines)}"
        ).rstrip()
        try:
            pickle.loads(pickle.dumps(self.exc_type))
        except Exception:  # a class the main process could not import: keep its name only
            self.exc_type = RuntimeError

    def reraise(self) -> None:
        message: str = self.message
        if self.exc_type is StopIteration:  # raised from __next__ it would end the epoch
            raise RuntimeError(message)
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        try:
            error = self.exc_type(message)
        except Exception:
            raise RuntimeError(message) from None
        raise error


@dataclass
class WorkerConfig:
    """Everything a worker needs; pickled for the spawn and forkserver start methods."""

    dataset: Any
    auto_collation: bool
    collate_fn: Any
    drop_last: bool
    base_seed: int
    worker_init_fn: Any
    worker_id: int
    num_workers: int
    default_device: str


def _seed(seed: int, base_seed: int, worker_id: int) -> None:
    import plugrad

    random.seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    plugrad.manual_seed(seed)


def _encode(task: int, data: Any, worker_id: int) -> bytes:
    """Pickle here, not in the queue's feeder thread, so a batch that cannot be pickled
    becomes an error the main process sees instead of a lost batch."""
    try:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        reason = TypeError(
            f"DataLoader worker {worker_id} could not pickle batch {task} to send it to the "
            f"main process ({error}); datasets and collate_fn should return NumPy arrays, "
            "numbers, strings, tensors, and tuples, lists or dicts of them"
        )
        return pickle.dumps(ExceptionWrapper(reason, f"in DataLoader worker process {worker_id}"))


def worker_loop(config: WorkerConfig, index_queue: Any, result_queue: Any, done_event: Any) -> None:
    """The body of a worker process (see the module docstring)."""
    global _worker_info
    parent = os.getppid()
    where = f"in DataLoader worker process {config.worker_id}"
    try:
        init_error: ExceptionWrapper | None = None
        fetcher = None
        try:
            import plugrad

            from .dataset import IterableDataset
            from .fetch import make_fetcher

            seed = (config.base_seed + config.worker_id) % (1 << 64)
            _seed(seed, config.base_seed, config.worker_id)
            plugrad.set_default_device(config.default_device)
            plugrad.set_num_threads(1)  # N workers on N cores, not N x the backend's threads
            _worker_info = WorkerInfo(config.worker_id, config.num_workers, seed, config.dataset)
            if config.worker_init_fn is not None:
                config.worker_init_fn(config.worker_id)
            args = (config.dataset, config.auto_collation, config.collate_fn, config.drop_last)
            fetcher = make_fetcher(*args, host=True)
        except Exception as error:
            init_error = ExceptionWrapper(error, where)
        ended = False
        while os.getppid() == parent:
            try:
                message = index_queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if message is None:
                break
            if message == RESUME:
                result_queue.put((RESUME, config.worker_id))
                ended = False
                if init_error is None:
                    fetcher = make_fetcher(*args, host=True)
                continue
            if done_event.is_set() or ended:
                continue
            task, index = message
            data: Any
            if init_error is not None:  # every batch of this worker fails as its start did
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)  # type: ignore[union-attr]
                except StopIteration as error:
                    if isinstance(config.dataset, IterableDataset):
                        data, ended = IterableEnd(config.worker_id), True
                    else:  # from a map-style dataset: an error, not the end of the epoch
                        data = ExceptionWrapper(error, where)
                except Exception as error:
                    data = ExceptionWrapper(error, where)
            result_queue.put((task, _encode(task, data, config.worker_id)))
            del data, message, index
    except KeyboardInterrupt:
        pass  # the main process has it too, and stops the workers
    if done_event.is_set():
        result_queue.cancel_join_thread()  # exit even if the main process stopped reading
        result_queue.close()
