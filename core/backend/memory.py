"""Memory statistics the core keeps for every device, with torch.cuda's names.

The core asks a backend for every buffer it holds (`NDArray.empty`, `NDArray.from_numpy`), so
it counts them itself: the byte size of each buffer when it is made, and, through a weak
reference, when the last reference to it goes away. The figures therefore hold for any
backend, a third-party one included, without the backend reporting anything. Memory shared
with NumPy (`plugrad.from_numpy` on a host device) or imported through DLPack is not an
allocation and is not counted. A backend that keeps freed blocks for reuse and says so through
`cached_bytes()` adds its cache to "reserved_bytes".

    plugrad.reset_peak_memory_stats()
    loss = model(x).sum(); loss.backward()
    plugrad.max_memory_allocated()     # bytes: the high-water mark since the reset
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = [
    "MemoryStats",
    "empty_cache",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_accumulated_memory_stats",
    "reset_max_memory_allocated",
    "reset_peak_memory_stats",
]


class _Storage(list):
    """A storage version counter that also stands for a buffer without weak references."""

    __slots__ = ("__weakref__",)


class MemoryStats:
    """One device's counts: live bytes and buffers, their peaks, and totals since a reset."""

    __slots__ = (
        "current",
        "peak",
        "allocated",
        "freed",
        "count",
        "count_peak",
        "count_allocated",
        "count_freed",
        "_live",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.current = self.peak = self.allocated = self.freed = 0
        self.count = self.count_peak = self.count_allocated = self.count_freed = 0
        self._live: dict[int, tuple[weakref.ref, int]] = {}

    def track(self, buffer: object, nbytes: int) -> list[int] | None:
        """Count a new buffer of `nbytes` until it is freed. Returns None, or, for a buffer
        without weak references, the version list the array must use: the buffer then counts
        as freed when the last array over it goes."""
        storage = None
        try:
            ref = weakref.ref(buffer, self._release)
        except TypeError:
            storage = _Storage([0])
            ref = weakref.ref(storage, self._release)
        self._live[id(ref)] = (ref, nbytes)
        current = self.current = self.current + nbytes
        if current > self.peak:
            self.peak = current
        self.allocated += nbytes
        count = self.count = self.count + 1
        if count > self.count_peak:
            self.count_peak = count
        self.count_allocated += 1
        return storage

    def _release(self, ref: weakref.ref) -> None:
        entry = self._live.pop(id(ref), None)
        if entry is None:
            return
        nbytes = entry[1]
        self.current -= nbytes
        self.freed += nbytes
        self.count -= 1
        self.count_freed += 1

    def reset_peak(self) -> None:
        self.peak = self.current
        self.count_peak = self.count

    def reset_accumulated(self) -> None:
        self.allocated = self.freed = 0
        self.count_allocated = self.count_freed = 0


def get_device(device: object) -> Any:
    from .registry import get_device as resolve  # registry imports this module

    return resolve(device)


def _stats(device: object) -> MemoryStats:
    return get_device(device).memory


def memory_allocated(device: object = None) -> int:
    """Bytes held by live buffers on `device` (the default device when None)."""
    return _stats(device).current


def max_memory_allocated(device: object = None) -> int:
    """The most bytes held at once since the start or the last `reset_peak_memory_stats`."""
    return _stats(device).peak


def reset_peak_memory_stats(device: object = None) -> None:
    """Start the peaks (bytes and buffers) again from the current figures."""
    _stats(device).reset_peak()


def reset_max_memory_allocated(device: object = None) -> None:
    """torch's older name for `reset_peak_memory_stats`."""
    _stats(device).reset_peak()


def reset_accumulated_memory_stats(device: object = None) -> None:
    """Set the totals of bytes and buffers allocated and freed back to zero."""
    _stats(device).reset_accumulated()


def _cached(backend: Any) -> int:
    cached = getattr(backend, "cached_bytes", None)
    return int(cached()) if cached is not None else 0


def memory_reserved(device: object = None) -> int:
    """Bytes the device's backend holds: its live buffers and, where it keeps one, its cache
    of freed blocks (`cached_bytes()`)."""
    dev = get_device(device)
    return max(dev.memory.current, int(dev.backend.allocated_bytes())) + _cached(dev.backend)


def max_memory_reserved(device: object = None) -> int:
    """The core does not see the backend's cache grow, so this is the current reservation
    or the allocation peak, whichever is larger."""
    dev = get_device(device)
    return max(memory_reserved(dev), dev.memory.peak)


def empty_cache(device: object = None) -> None:
    """Give the backend's cache of freed blocks back to the system, where it has one."""
    empty = getattr(get_device(device).backend, "empty_cache", None)
    if empty is not None:
        empty()


def memory_stats(device: object = None) -> dict[str, int]:
    """torch.cuda.memory_stats' keys for what the core counts ("all" pools only):
    allocated_bytes / active_bytes (bytes), allocation / active (buffers), each with
    .current, .peak, .allocated and .freed, and reserved_bytes.all.current."""
    dev = get_device(device)
    s = dev.memory
    out: dict[str, int] = {}
    for key in ("allocated_bytes", "active_bytes"):
        out[f"{key}.all.current"] = s.current
        out[f"{key}.all.peak"] = s.peak
        out[f"{key}.all.allocated"] = s.allocated
        out[f"{key}.all.freed"] = s.freed
    for key in ("allocation", "active"):
        out[f"{key}.all.current"] = s.count
        out[f"{key}.all.peak"] = s.count_peak
        out[f"{key}.all.allocated"] = s.count_allocated
        out[f"{key}.all.freed"] = s.count_freed
    out["reserved_bytes.all.current"] = memory_reserved(dev)
    out["num_alloc_retries"] = 0
    out["num_ooms"] = 0
    return dict(sorted(out.items()))
