"""Memory statistics the core keeps per device (plugrad.memory_allocated and torch's kin)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import plugrad
from plugrad.backend.memory import MemoryStats

HOSTS = ["numpy_ref", "c_cpu"]


@pytest.fixture(params=HOSTS)
def device(request):
    try:
        return plugrad.device(request.param)
    except ValueError:
        pytest.skip(f"{request.param} is not installed")


def test_allocation_and_free_are_counted_to_the_byte(device):
    gc.collect()
    before = plugrad.memory_allocated(device)
    stats0 = plugrad.memory_stats(device)
    x = plugrad.zeros(1000, device=device)
    assert plugrad.memory_allocated(device) == before + 4000
    assert plugrad.max_memory_allocated(device) >= before + 4000
    y = plugrad.empty(250, dtype=plugrad.float64, device=device)
    assert plugrad.memory_allocated(device) == before + 4000 + 2000
    stats = plugrad.memory_stats(device)
    assert stats["allocation.all.current"] == stats0["allocation.all.current"] + 2
    assert stats["allocated_bytes.all.allocated"] == stats0["allocated_bytes.all.allocated"] + 6000
    peak = plugrad.max_memory_allocated(device)
    del x, y
    assert plugrad.memory_allocated(device) == before
    assert plugrad.max_memory_allocated(device) == peak  # the peak stays
    stats = plugrad.memory_stats(device)
    assert stats["allocated_bytes.all.freed"] == stats0["allocated_bytes.all.freed"] + 6000
    assert stats["allocation.all.freed"] == stats0["allocation.all.freed"] + 2
    plugrad.reset_peak_memory_stats(device)
    assert plugrad.max_memory_allocated(device) == plugrad.memory_allocated(device)


def test_views_share_the_buffer_and_results_allocate(device):
    x = plugrad.ones((10, 100), device=device)
    before = plugrad.memory_allocated(device)
    v = x.reshape(1000)[::2].T
    w = x.transpose(0, 1)[3]
    assert plugrad.memory_allocated(device) == before  # views: no new buffer
    y = x * 2  # a new float32 buffer of 1000 elements
    assert plugrad.memory_allocated(device) == before + 4000
    del x
    assert plugrad.memory_allocated(device) == before + 4000  # the views keep it alive
    del v, w
    assert plugrad.memory_allocated(device) == before + 4000 - 4000
    del y


def test_copies_from_numpy_count_and_shared_memory_does_not(device):
    host = np.zeros(500, dtype=np.int64)
    before = plugrad.memory_allocated(device)
    copied = plugrad.tensor(host, device=device)
    assert plugrad.memory_allocated(device) == before + 4000
    shared = plugrad.from_numpy(host, device=device)  # the caller's memory, not an allocation
    assert plugrad.memory_allocated(device) == before + 4000
    del copied, shared


def test_peak_reset_and_accumulated_reset(device):
    plugrad.reset_peak_memory_stats(device)
    start = plugrad.memory_allocated(device)
    big = plugrad.zeros(10_000, device=device)
    del big
    assert plugrad.memory_allocated(device) == start
    assert plugrad.max_memory_allocated(device) == start + 40_000
    stats = plugrad.memory_stats(device)
    assert stats["allocated_bytes.all.peak"] == start + 40_000
    plugrad.reset_peak_memory_stats(device.name)  # a name works as well as a Device
    assert plugrad.max_memory_allocated(device) == start
    plugrad.reset_accumulated_memory_stats(device)
    stats = plugrad.memory_stats(device)
    assert stats["allocated_bytes.all.allocated"] == stats["allocated_bytes.all.freed"] == 0
    assert stats["allocation.all.allocated"] == stats["allocation.all.freed"] == 0
    assert stats["allocated_bytes.all.current"] == start
    small = plugrad.zeros(3, device=device)
    assert plugrad.memory_stats(device)["allocated_bytes.all.allocated"] == 12
    del small


def test_stats_have_torchs_keys(device):
    stats = plugrad.memory_stats(device)
    for kind in ("allocated_bytes", "allocation", "active_bytes", "active"):
        for what in ("current", "peak", "allocated", "freed"):
            assert isinstance(stats[f"{kind}.all.{what}"], int)
    assert stats["reserved_bytes.all.current"] >= 0
    assert plugrad.memory_reserved(device) >= 0
    assert plugrad.max_memory_reserved(device) >= plugrad.memory_reserved(device)
    plugrad.empty_cache(device)  # a no-op where the backend keeps no cache


def test_reserved_includes_the_c_cpu_cache():
    try:
        dev = plugrad.device("c_cpu")
    except ValueError:
        pytest.skip("c_cpu is not installed")
    x = plugrad.zeros(1 << 16, device=dev)  # 256 KiB: freed blocks this big are cached
    del x
    cached = dev.backend.cached_bytes()
    assert plugrad.memory_reserved(dev) >= plugrad.memory_allocated(dev) + cached
    plugrad.empty_cache(dev)
    assert dev.backend.cached_bytes() == 0


def test_default_device_and_each_device_apart(make_device):
    other = make_device("mem_second")
    before = plugrad.memory_allocated(other)
    default_before = plugrad.memory_allocated()
    x = plugrad.zeros(100, device=other)  # a third-party device: the core counts it too
    assert plugrad.memory_allocated("mem_second") == before + 400
    with plugrad.device(other):
        assert plugrad.memory_allocated() == before + 400  # the default device
    if plugrad.get_default_device() is not other:
        assert plugrad.memory_allocated() == default_before
    del x
    assert plugrad.memory_allocated(other) == before


def test_buffers_without_weak_references_count_through_their_arrays():
    stats = MemoryStats()
    buffer = bytearray(16)  # no weak references
    storage = stats.track(buffer, 16)
    assert storage == [0] and stats.current == 16 and stats.count == 1
    del storage  # the last array over the buffer is gone
    assert stats.current == 0 and stats.freed == 16 and stats.peak == 16
    array = np.zeros(4)
    assert stats.track(array, 32) is None
    del array
    assert stats.current == 0 and stats.count_freed == 2


def test_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="unknown device"):
        plugrad.memory_allocated("no_such_device")
