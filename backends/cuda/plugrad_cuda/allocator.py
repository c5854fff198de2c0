"""A caching allocator over a runtime's raw malloc/free, with the accounting the core reads.

Freed blocks go to a free list by rounded size and are handed out again without a driver call
(cuMemAlloc and cuMemFree synchronise the device). All work runs on the backend's one stream,
so a block freed after its last kernel was queued can be reused by work queued later. Sizes
round up to 512 bytes below 1 MiB and to whole MiB above, so blocks of similar size share a
list. When the device is out of memory, the cache is returned and the allocation retried.
"""

from __future__ import annotations

import threading

_SMALL = 512
_LARGE = 1 << 20


def rounded(nbytes: int) -> int:
    if nbytes <= _LARGE:
        return max(_SMALL, -(-nbytes // _SMALL) * _SMALL)
    return -(-nbytes // _LARGE) * _LARGE


class CachingAllocator:
    def __init__(self, runtime) -> None:
        self._runtime = runtime
        self._free: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self.allocated = 0  # bytes of live blocks (rounded sizes)
        self.cached = 0  # bytes of blocks kept for reuse
        self.peak = 0

    def allocate(self, nbytes: int) -> tuple[int, int]:
        """(address, block size) of a block of at least `nbytes` (> 0) bytes."""
        size = rounded(nbytes)
        with self._lock:
            blocks = self._free.get(size)
            if blocks:
                address = blocks.pop()
                self.cached -= size
            else:
                address = None
            self.allocated += size
            self.peak = max(self.peak, self.allocated)
        if address is not None:
            return address, size
        try:
            try:
                address = self._runtime.malloc(size)
            except MemoryError:
                self.empty_cache()
                address = self._runtime.malloc(size)
        except BaseException:
            with self._lock:
                self.allocated -= size
            raise
        return address, size

    def release(self, address: int, size: int) -> None:
        with self._lock:
            self.allocated -= size
            self.cached += size
            self._free.setdefault(size, []).append(address)

    def empty_cache(self) -> None:
        """Return every cached block to the device."""
        with self._lock:
            blocks = [a for addresses in self._free.values() for a in addresses]
            self._free.clear()
            self.cached = 0
        if blocks:
            self._runtime.synchronize()  # the blocks' last kernels must have finished
        for address in blocks:
            self._runtime.free(address)
