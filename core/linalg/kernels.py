"""Running a decomposition: the backend's `LinalgKernels` method when it has one, else the
host fallback (copy to the host, NumPy's LAPACK in `host`, copy the results back).

Every function takes (B, m, n) NDArrays of one floating dtype (any strides) and writes into
or returns (B, ...) ones on the same device. Empty stacks and empty matrices always take the
host path (the protocol promises kernels non-empty operands).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import dtypes as dt
from ..ndarray import NDArray
from . import host


class LinAlgError(RuntimeError):
    """A matrix the computation cannot handle: singular, not positive-definite (torch's)."""


def _run(
    name: str,
    inputs: Sequence[NDArray],
    outs: Sequence[NDArray | None],
    with_info: bool,
    on_host: Callable[..., tuple],
) -> np.ndarray | None:
    """Fill `outs` (compact, maybe parts of one buffer; None: not wanted) from `inputs`;
    returns the info codes (host int64 (B,)) when `with_info`."""
    first = inputs[0]
    device = first.device
    kernel = getattr(first.backend, "linalg_" + name, None)
    if kernel is not None and all(x.size for x in inputs):
        info = NDArray.empty((first.shape[0],), dt.int64, device) if with_info else None
        views = [x.strided() for x in inputs] + [o.strided() if o is not None else None
                                                 for o in outs]  # fmt: skip
        kernel(*views, *([info.strided()] if info is not None else []))
        return info.numpy() if info is not None else None
    results = on_host(*[x.numpy() for x in inputs])
    for out, value in zip(outs, results):
        if out is not None and out.size:
            out.assign_(NDArray.from_numpy(np.ascontiguousarray(value), device, out.dtype))
    return np.asarray(results[len(outs)]) if with_info else None


def cholesky(a: NDArray) -> tuple[NDArray, np.ndarray]:
    """(L (B, n, n), info (B,) on the host)."""
    out = NDArray.empty(a.shape, a.dtype, a.device)
    info = _run("cholesky", [a], [out], True, host.cholesky)
    return out, info  # type: ignore[return-value]


def solve(a: NDArray, b: NDArray) -> tuple[NDArray, np.ndarray]:
    """(X (B, n, k), info (B,) on the host) for a (B, n, n), b (B, n, k)."""
    out = NDArray.empty(b.shape, a.dtype, a.device)
    info = _run("solve", [a, b], [out], True, host.solve)
    return out, info  # type: ignore[return-value]


def slogdet(a: NDArray, sign: NDArray, logabsdet: NDArray) -> None:
    _run("slogdet", [a], [sign, logabsdet], False, host.slogdet)


def qr(a: NDArray, q: NDArray, r: NDArray) -> None:
    """Reduced or complete, as q's shape says."""
    complete = q.shape[-1] == a.shape[-2] and a.shape[-2] > a.shape[-1]
    _run("qr", [a], [q, r], False, lambda x: host.qr(x, complete))


def eigh(a: NDArray, values: NDArray, vectors: NDArray | None) -> None:
    _run("eigh", [a], [values, vectors], False, lambda x: host.eigh(x, vectors is not None))


def svd(a: NDArray, u: NDArray | None, s: NDArray, vh: NDArray | None) -> None:
    """Full or reduced, as u's shape says; values only when u and vh are None."""
    full = u is not None and u.shape[-1] == a.shape[-2] != s.shape[-1]
    full = full or (vh is not None and vh.shape[-2] == a.shape[-1] != s.shape[-1])
    _run("svd", [a], [u, s, vh], False, lambda x: host.svd(x, full, u is not None))


def raise_for(
    fn: str, info: np.ndarray, batch: tuple[int, ...], problem: Callable[[int], str]
) -> None:
    """LinAlgError naming the first failed matrix (its flat batch index when batched, as
    torch's message does)."""
    failed = np.flatnonzero(info)
    if not failed.size:
        return
    first = int(failed[0])
    where = f"(Batch element {first}): " if batch else ""
    raise LinAlgError(f"{fn}: {where}{problem(int(info[first]))}")
