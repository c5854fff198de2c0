"""DataLoader: batches from a dataset, in the main process or in worker processes, as torch.

Random state: each epoch (each `iter(loader)`) draws its sampler's order (one call of the
loader's generator, or of the global one, when iter() is called) and then one `base_seed`,
whatever num_workers and persistent_workers are, so the order never depends on them. Worker
`id` seeds itself with base_seed + id (plugrad.data.worker).

Workers (num_workers > 0) run the dataset, the sampler's indices and collate_fn in other
processes; batches cross as NumPy data and the main process builds their tensors
(plugrad.data.collate). With the 'spawn' and 'forkserver' start methods the dataset,
collate_fn and worker_init_fn are pickled to each worker, so they must be importable
(module-level) objects; a TensorDataset pickles its tensors as NumPy arrays.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..random import Generator, host_integers, resolve
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .fetch import make_fetcher
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                     "persistent_workers")  # fmt: skip


class _IterableIndices:
    """The 'indices' of an IterableDataset: how many items each fetch takes, forever."""

    def __init__(self, batch_size: int | None) -> None:
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[int | None]:
        return itertools.repeat(self.batch_size)


def _context(value: Any, num_workers: int) -> Any:
    if value is None:
        return None
    if num_workers == 0:
        raise ValueError(
            "multiprocessing_context can only be used with multi-process loading "
            f"(num_workers > 0), but got num_workers={num_workers}"
        )
    if isinstance(value, str):
        methods = multiprocessing.get_all_start_methods()
        if value not in methods:
            raise ValueError(
                "multiprocessing_context option should specify a valid start method in "
                f"{methods!r}, but got multiprocessing_context={value!r}"
            )
        return multiprocessing.get_context(value)
    if not isinstance(value, multiprocessing.context.BaseContext):
        raise TypeError(
            "multiprocessing_context option should be a valid context object or a string "
            f"specifying the start method, but got multiprocessing_context={value!r}"
        )
    return value


class DataLoader:
    """Iterate over `dataset` in batches, as torch.utils.data.DataLoader.

    batch_size (None: no batching, samples one by one through default_convert), shuffle (a
    RandomSampler from `generator`, default: the global generator, so plugrad.manual_seed(n)
    makes it reproducible; the order is the same on every device), sampler or batch_sampler
    (not with shuffle; batch_sampler not with batch_size, sampler or drop_last), drop_last,
    collate_fn (default: default_collate, through the dataset's `get_batch`).

    num_workers: worker processes (0: load in the main process); prefetch_factor batches
    ahead per worker (default 2); persistent_workers keeps them between epochs;
    worker_init_fn(worker_id) runs in each after seeding; timeout (seconds, 0: none) bounds
    the wait for one batch; multiprocessing_context: 'fork', 'spawn', 'forkserver' or a
    context (default: Python's default start method); in_order=False delivers batches as
    they arrive. pin_memory and pin_memory_device are accepted and do nothing: plugrad's host
    devices need no pinned copies. See the module docstring for seeding and pickling.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be a non-negative integer; use num_workers=0 to "
                f"disable multiprocessing, got {num_workers!r}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"timeout option should be a non-negative number, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing; let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None"
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (
            isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int)
            or prefetch_factor < 1
        ):  # fmt: skip
            raise ValueError(
                f"prefetch_factor should be a positive integer, got {prefetch_factor!r}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn must be callable, got {worker_init_fn!r}")
        if generator is not None:
            resolve(generator)

        if isinstance(dataset, IterableDataset):
            if shuffle not in (None, False):
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))  # fmt: skip
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and isinstance(dataset, IterableDataset):
            BatchSampler([], batch_size, drop_last)  # the same argument checks

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _context(multiprocessing_context, num_workers)
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._auto_collation = batch_size is not None or batch_sampler is not None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator: Any = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_initialized", False) and name in _FIXED_AFTER_INIT:
            raise ValueError(
                f"{name} attribute should not be set after {type(self).__name__} is "
                "initialized; create a new DataLoader"
            )
        super().__setattr__(name, value)

    @property
    def _index_sampler(self) -> Any:
        if isinstance(self.dataset, IterableDataset):
            return _IterableIndices(self.batch_size)
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        from .multiprocess import MultiProcessIterator

        if not self.persistent_workers:
            return MultiProcessIterator(self)
        if self._iterator is None or self._iterator.closed:  # first epoch, or after a crash
            self._iterator = MultiProcessIterator(self)
        else:
            self._iterator._reset(self)
        return self._iterator


class _BaseIterator:
    """One epoch: the sampler's order, drawn now, then the epoch's base_seed."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._auto_collation = loader._auto_collation
        self._start_epoch(loader)

    def _start_epoch(self, loader: DataLoader) -> None:
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = int(host_integers((), 1 << 63, loader.generator))

    def __iter__(self) -> _BaseIterator:
        return self

    def __next__(self) -> Any:
        return self._next_data()

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._index_sampler)


class _SingleProcessIterator(_BaseIterator):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = make_fetcher(
            loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last
        )

    def _next_data(self) -> Any:
        return self._fetcher.fetch(next(self._sampler_iter))
