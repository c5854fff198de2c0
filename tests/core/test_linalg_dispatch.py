"""Where plugrad.linalg's decompositions run: a backend's optional LinalgKernels when it has
them, the host fallback (NumPy's LAPACK) when not, with the same results either way."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.linalg as la
from plugrad.backend.protocol import LINALG_KERNELS, linalg_kernels_of
from plugrad.backend.registry import register_backend, unregister_backend
from plugrad.linalg import host


@pytest.fixture
def host_only():
    """A numpy_ref device without its linalg kernels: everything goes through the fallback."""
    from plugrad_numpy_ref.backend import NumpyRefBackend

    backend = NumpyRefBackend()
    backend.name = "numpy_no_linalg"
    for name in LINALG_KERNELS:
        setattr(backend, name, None)
    device = register_backend(backend)
    yield device
    unregister_backend(device.name)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CALLS = [
    ("cholesky", lambda a: la.cholesky(a @ a.mT + 3 * plugrad.eye(3, device=a.device))),
    ("solve", lambda a: la.solve(a, a[..., :2])),
    ("slogdet", lambda a: tuple(la.slogdet(a))),
    ("qr", lambda a: tuple(la.qr(a))),
    ("qr_complete", lambda a: tuple(la.qr(a[..., :2], mode="complete"))),
    ("eigh", lambda a: tuple(la.eigh(a))),
    ("eigvalsh", lambda a: la.eigvalsh(a)),
    ("svd", lambda a: tuple(la.svd(a[..., :2]))),
    ("svdvals", lambda a: la.svdvals(a)),
    ("pinv", lambda a: la.pinv(a)),
]


@pytest.mark.parametrize("case", CALLS, ids=[c[0] for c in CALLS])
def test_kernel_and_host_fallback_agree(host_only, case):
    _, fn = case
    values = rand(2, 3, 3) + 3 * np.eye(3)
    with_kernel = fn(plugrad.tensor(values, device="numpy_ref"))
    on_host = fn(plugrad.tensor(values, device=host_only))
    pairs = zip(*(r if isinstance(r, tuple) else (r,) for r in (with_kernel, on_host)))
    for a, b in pairs:
        assert b.device is host_only
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_backend_with_the_kernel_runs_it_and_one_without_runs_the_host(host_only, monkeypatch):
    calls = []
    real = host.svd

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(host, "svd", counted)
    a = rand(4, 3)
    la.svdvals(plugrad.tensor(a, device=host_only))
    assert calls == [(1, 4, 3)]  # the fallback, on one (B, m, n) stack
    from plugrad_numpy_ref import linalg as numpy_ref_linalg

    monkeypatch.setattr(numpy_ref_linalg.host, "svd", counted)
    la.svdvals(plugrad.tensor(a, device="numpy_ref"))
    assert calls == [(1, 4, 3), (1, 4, 3)]  # numpy_ref's kernel (the same NumPy routine)
    assert linalg_kernels_of(host_only.backend) == []
    assert linalg_kernels_of(plugrad.device("numpy_ref").backend) == list(LINALG_KERNELS)


def test_strided_and_broadcast_inputs_reach_the_kernel_unchanged(device):
    """Transposed and batch-broadcast (stride 0) stacks decompose as their values say."""
    base = rand(3, 3) + 3 * np.eye(3)
    a = plugrad.tensor(base, device=device).mT.expand(4, 3, 3)
    np.testing.assert_allclose(la.det(a).numpy(), np.full(4, np.linalg.det(base.T)), rtol=1e-5)
    values = la.svdvals(a)
    np.testing.assert_allclose(values.numpy()[2], np.linalg.svd(base, compute_uv=False),
                               rtol=1e-5)  # fmt: skip


def test_the_host_fallback_reports_failures_per_matrix():
    a = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]], np.diag([1.0, -1.0])])
    _, info = host.cholesky(a)
    assert info.tolist() == [0, 2, 2]
    _, info = host.solve(np.stack([np.eye(2), np.zeros((2, 2))]), np.ones((2, 2, 1)))
    assert info.tolist() == [0, 1]
