"""Positions and segments: the array algorithms behind nonzero, unique, searchsorted and the
scatter family, composed on the device from the protocol's sort, scan, gather and scatter_add
(no kernel of their own, no copy to the host beyond a count that sizes a result).

Everything here works on NDArrays (no autograd): 1-D int64 positions and keys.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..backend.registry import Device
from ..ndarray import NDArray
from ..shapes import compact_strides
from .scan import scan_array
from .sort import sort_arrays


def arange(n: int, device: Device, step: int = 1) -> NDArray:
    """int64 [0, step, 2 * step, ...) of length n."""
    return NDArray.from_numpy(np.arange(n, dtype=np.int64) * step, device)


def scatter_add_1d(size: int, targets: NDArray, values: NDArray) -> NDArray:
    """zeros(size) (values' dtype) with values[i] added at targets[i] (1-D, in range)."""
    out = NDArray.full((size,), 0, values.dtype, values.device)
    if targets.size:
        values.backend.scatter_add(out.strided(), 0, targets.strided(), values.strided())
    return out


def gather_1d(values: NDArray, positions: NDArray) -> NDArray:
    """values[positions] for 1-D values and positions of any shape (in range)."""
    flat = positions.reshape(-1)
    out = NDArray.empty(flat.shape, values.dtype, values.device)
    if flat.size:
        values.backend.gather(values.strided(), 0, flat.strided(), out.strided())
    return out.reshape(positions.shape)


def true_positions(mask: NDArray) -> NDArray:
    """The int64 positions where the 1-D bool mask is true, in order (one count to the host)."""
    n = mask.size
    if n == 0:
        return NDArray.empty((0,), dt.int64, mask.device)
    ranks = scan_array("sum", mask.astype(dt.int64), 0)  # 1 + the rank of each true entry
    count = int(ranks.slice_view((n - 1,)).item())
    slot = NDArray.where(mask, ranks.scalar_op("sub", 1), count)  # falses go to a spare slot
    found = scatter_add_1d(count + 1, slot, arange(n, mask.device))
    return found.slice_view((slice(0, count),))


def run_starts(sorted_keys: NDArray) -> NDArray:
    """bool: where a run of equal values starts in a sorted 1-D array (NaN never equals)."""
    n = sorted_keys.size
    starts = NDArray.full((n,), True, dt.bool_, sorted_keys.device)
    if n > 1:
        later, earlier = (
            sorted_keys.slice_view((slice(1, n),)),
            sorted_keys.slice_view((slice(0, n - 1),)),
        )
        starts.slice_view((slice(1, n),)).assign_(later.binary("ne", earlier))
    return starts


def run_ends(sorted_keys: NDArray) -> NDArray:
    """bool: where a run of equal values ends in a sorted 1-D array."""
    n = sorted_keys.size
    ends = NDArray.full((n,), True, dt.bool_, sorted_keys.device)
    if n > 1:
        earlier, later = (
            sorted_keys.slice_view((slice(0, n - 1),)),
            sorted_keys.slice_view((slice(1, n),)),
        )
        ends.slice_view((slice(0, n - 1),)).assign_(earlier.binary("ne", later))
    return ends


def flat_targets(index: NDArray, axis: int, shape: tuple[int, ...]) -> NDArray:
    """For each entry of a scatter/gather index: the row-major position in an array of `shape`
    that it addresses (its value along `axis`, its own position elsewhere), flattened."""
    strides = compact_strides(shape)
    targets = index.scalar_op("mul", strides[axis]) if strides[axis] != 1 else index
    for d, n in enumerate(index.shape):
        if d != axis and n > 1:
            along = [1] * index.ndim
            along[d] = n
            targets = targets.binary("add", arange(n, index.device, strides[d]).reshape(along))
    return targets.broadcast_to(index.shape).reshape(-1)


def winners(targets: NDArray, size: int) -> NDArray:
    """int64 (size,): 1 + the position in the 1-D `targets` of the last entry that addresses
    each position of an array of `size` elements, 0 where none does (a scatter's last write
    wins, as torch's does on the CPU)."""
    n = targets.size
    if n == 0:
        return NDArray.full((size,), 0, dt.int64, targets.device)
    keys, order = sort_arrays(targets, 0)  # stable: writes to one position stay in order
    slot = NDArray.where(run_ends(keys), keys, size)
    return scatter_add_1d(size + 1, slot, order.scalar_op("add", 1)).slice_view((slice(0, size),))


def segment_reduce(op: str, targets: NDArray, values: NDArray, size: int, longest: int):
    """(the `op` ("mul", "maximum" or "minimum") of the values addressing each of `size`
    positions, int64 1 + the last position in sorted order of each, 0 where none): a stable
    sort by target, then an inclusive segmented scan by doubling (log2(longest) passes)."""
    keys, order = sort_arrays(targets, 0)
    acc = gather_1d(values, order)
    n = acc.size
    shift = 1
    while shift < longest:
        later, earlier = (slice(shift, n),), (slice(0, n - shift),)
        same = keys.slice_view(later).binary("eq", keys.slice_view(earlier))
        combined = acc.slice_view(later).binary(op, acc.slice_view(earlier))
        step = acc.copy()
        step.slice_view(later).assign_(NDArray.where(same, combined, acc.slice_view(later)))
        acc = step
        shift *= 2
    slot = NDArray.where(run_ends(keys), keys, size)
    last = scatter_add_1d(size + 1, slot, arange(n, targets.device).scalar_op("add", 1))
    return acc, last.slice_view((slice(0, size),))


def floor_divide(a: NDArray, b: NDArray) -> NDArray:
    """floor(a / b) for int64 a and positive int64 b, exactly (through float64 twice: an
    estimate, then the remainder's correction, which is small enough to be exact)."""
    estimate = a.astype(dt.float64).binary("div", b.astype(dt.float64)).unary("floor")
    q = estimate.astype(dt.int64)
    remainder = a.binary("sub", q.binary("mul", b))
    fix = remainder.astype(dt.float64).binary("div", b.astype(dt.float64)).unary("floor")
    return q.binary("add", fix.astype(dt.int64))
