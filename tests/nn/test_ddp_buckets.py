"""How DistributedDataParallel groups parameters into buckets (no MPI needed)."""

from __future__ import annotations

import plugrad
from plugrad.nn.parallel.reducer import CommStats, assign_buckets


def params(*specs: tuple[int, object]) -> list[plugrad.Tensor]:
    return [plugrad.zeros(n, dtype=dtype) for n, dtype in specs]


def test_buckets_follow_the_order_and_close_at_the_cap():
    ps = params((100, "float32"), (100, "float32"), (100, "float32"), (100, "float32"))
    # 400 bytes each; first bucket capped at 500 bytes, the others at 1000
    assert assign_buckets(ps, [3, 2, 1, 0], 1000, 500) == [[3, 2], [1, 0]]
    assert assign_buckets(ps, [0, 1, 2, 3], 10_000, 10_000) == [[0, 1, 2, 3]]
    assert assign_buckets(ps, [3, 2, 1, 0], 1, 1) == [[3], [2], [1], [0]]


def test_one_dtype_per_bucket():
    ps = params((10, "float32"), (10, "float64"), (10, "float32"), (10, "float64"))
    buckets = assign_buckets(ps, [3, 2, 1, 0], 1 << 20, 1 << 20)
    assert sorted(buckets) == [[2, 0], [3, 1]]
    assert all(len({ps[i].dtype for i in b}) == 1 for b in buckets)
    assert buckets[0] == [3, 1], "buckets ordered by their first parameter in the given order"


def test_overlap_share():
    assert CommStats(backward=2.0, overlapped=0.5).overlap_share == 0.25
    assert CommStats().overlap_share == 0.0
