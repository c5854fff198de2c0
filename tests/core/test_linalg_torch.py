"""plugrad.linalg and torch's top-level linear-algebra names against torch on every device:
values and gradients in float64, values in float32, batched and broadcast.

Decompositions whose vectors have a sign (or basis) freedom are compared through quantities
free of it (reconstructions, squared vectors, u_i v_i^T outer products), which is also what a
gradient through them must be computed from (torch's gauge caveat)."""

from __future__ import annotations

import numpy as np
import pytest
from torch_oracle import compare, random

import plugrad
import plugrad.linalg

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)
pytestmark = pytest.mark.filterwarnings("ignore:torch.(qr|svd|cholesky) is deprecated")


def well_conditioned(shape, seed=0):
    """Random square matrices plus 3 I: far from singular, so float32 agrees closely."""
    return random(shape, seed) + 3 * np.eye(shape[-1])


def spd(m, x):
    """A symmetric positive-definite matrix made differentiably from x (so the gradient
    reaches every element of x, whichever triangle the decomposition reads)."""
    eye = m.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return x @ x.mT + x.shape[-1] * eye


def sym(m, x):
    return x + x.mT


def svd_invariants(m, full):
    def fn(x):
        u, s, vh = m.linalg.svd(x, full_matrices=full)
        k = s.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]
        weights = m.arange(1.0, k + 1.0, dtype=x.dtype, device=x.device) * 0.7 - 1.1
        return (u * weights) @ vh, s, u * u, vh * vh

    return fn


def eigh_invariants(m, uplo="L"):
    def fn(x):
        values, vectors = m.linalg.eigh(sym(m, x) if uplo == "L" else x, UPLO=uplo)
        return values, vectors * vectors

    return fn


def qr_of(mode):
    return lambda m, x: tuple(m.linalg.qr(x, mode=mode))


CASES = [
    ("solve", lambda m, a, b: m.linalg.solve(a, b), [("wc", (2, 3, 3)), (2, 3, 2)]),
    ("solve_vector", lambda m, a, b: m.linalg.solve(a, b), [("wc", (2, 3, 3)), (2, 3)]),
    ("solve_1d", lambda m, a, b: m.linalg.solve(a, b), [("wc", (3, 3)), (3,)]),
    ("solve_broadcast", lambda m, a, b: m.linalg.solve(a, b), [("wc", (3, 3)), (4, 3, 2)]),
    ("solve_right", lambda m, a, b: m.linalg.solve(a, b, left=False),
     [("wc", (2, 3, 3)), (2, 4, 3)]),
    ("solve_triangular", lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True),
     [("wc", (2, 3, 3)), (2, 3, 2)]),
    ("solve_triangular_unit", lambda m, a, b: m.linalg.solve_triangular(
        a, b, upper=False, left=False, unitriangular=True), [("wc", (3, 3)), (2, 3)]),
    ("inv", lambda m, a: m.linalg.inv(a), [("wc", (2, 3, 3))]),
    ("inverse", lambda m, a: m.inverse(a), [("wc", (3, 3))]),
    ("det", lambda m, a: m.linalg.det(a), [("wc", (2, 3, 3))]),
    ("det_method", lambda m, a: a.det(), [(4, 4)]),
    ("slogdet", lambda m, a: tuple(m.linalg.slogdet(a)), [(2, 3, 3)]),
    ("slogdet_top", lambda m, a: tuple(m.slogdet(a)), [(3, 3)]),
    ("logdet", lambda m, a: m.logdet(spd(m, a)), [(2, 3, 3)]),
    ("cholesky", lambda m, a: m.linalg.cholesky(spd(m, a)), [(2, 3, 3)]),
    ("cholesky_upper", lambda m, a: m.linalg.cholesky(spd(m, a), upper=True), [(3, 3)]),
    ("cholesky_top", lambda m, a: m.cholesky(spd(m, a), True), [(3, 3)]),
    ("qr_tall", qr_of("reduced"), [(2, 5, 3)]),
    ("qr_wide", qr_of("reduced"), [(2, 3, 5)]),
    ("qr_square", qr_of("reduced"), [(3, 3)]),
    ("qr_complete_wide", qr_of("complete"), [(3, 5)]),
    ("qr_complete_tall_values", lambda m, a: tuple(m.linalg.qr(a.detach(), mode="complete")),
     [(5, 3)]),
    ("qr_r_values", lambda m, a: m.linalg.qr(a.detach(), mode="r").R, [(4, 3)]),
    ("qr_top", lambda m, a: tuple(m.qr(a, some=False)), [(3, 4)]),
    ("eigh", lambda m, a: eigh_invariants(m)(a), [(2, 4, 4)]),
    ("eigh_upper", lambda m, a: eigh_invariants(m, "U")(a), [(3, 3)]),
    ("eigvalsh", lambda m, a: m.linalg.eigvalsh(sym(m, a)), [(2, 4, 4)]),
    ("eigvalsh_upper", lambda m, a: m.linalg.eigvalsh(a, UPLO="U"), [(4, 4)]),
    ("svd_full_tall", lambda m, a: svd_invariants(m, True)(a), [(2, 5, 3)]),
    ("svd_full_wide", lambda m, a: svd_invariants(m, True)(a), [(3, 5)]),
    ("svd_reduced_tall", lambda m, a: svd_invariants(m, False)(a), [(2, 5, 3)]),
    ("svd_reduced_wide", lambda m, a: svd_invariants(m, False)(a), [(2, 3, 5)]),
    ("svd_square", lambda m, a: svd_invariants(m, False)(a), [(4, 4)]),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), [(2, 5, 3)]),
    ("svd_top", lambda m, a: (lambda r: (r[0] * r[0], r[1], r[2] * r[2]))(m.svd(a)), [(4, 3)]),
    ("pinv_tall", lambda m, a: m.linalg.pinv(a), [(2, 5, 3)]),
    ("pinv_wide", lambda m, a: m.linalg.pinv(a), [(3, 5)]),
    ("pinv_hermitian", lambda m, a: m.linalg.pinv(sym(m, a), hermitian=True), [(2, 4, 4)]),
    ("pinv_atol", lambda m, a: m.linalg.pinv(a, atol=0.5), [(4, 3)]),
    ("pinverse", lambda m, a: m.pinverse(a), [(3, 4)]),
    ("lstsq", lambda m, a, b: m.linalg.lstsq(a, b).solution, [(2, 5, 3), (2, 5, 2)]),
    ("lstsq_vector", lambda m, a, b: m.linalg.lstsq(a, b).solution, [(5, 3), (5,)]),
    ("lstsq_gelsd", lambda m, a, b: tuple(m.linalg.lstsq(a, b, driver="gelsd")),
     [(2, 5, 3), (2, 5, 2)]),
    ("lstsq_gels", lambda m, a, b: tuple(m.linalg.lstsq(a, b, driver="gels"))[:2],
     [(5, 3), (5, 2)]),
    ("lstsq_wide", lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd").solution,
     [(3, 5), (3, 2)]),
    ("matrix_power", lambda m, a: m.linalg.matrix_power(a, 5), [(2, 3, 3)]),
    ("matrix_power_negative", lambda m, a: m.matrix_power(a, -2), [("wc", (3, 3))]),
    ("matrix_power_zero", lambda m, a: m.linalg.matrix_power(a, 0), [(2, 3, 3)]),
    ("matmul", lambda m, a, b: m.linalg.matmul(a, b), [(2, 3, 4), (4, 2)]),
    ("diagonal", lambda m, a: m.linalg.diagonal(a, offset=1), [(2, 3, 4)]),
    ("diagonal_dims", lambda m, a: m.linalg.diagonal(a, dim1=0, dim2=2), [(3, 2, 3)]),
    ("vecdot", lambda m, a, b: m.linalg.vecdot(a, b), [(2, 3), (3,)]),
    ("vecdot_dim", lambda m, a, b: m.linalg.vecdot(a, b, dim=0), [(3, 2), (3, 1)]),
    ("cross", lambda m, a, b: m.linalg.cross(a, b), [(2, 3), (1, 3)]),
    ("cross_dim", lambda m, a, b: m.linalg.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    ("multi_dot", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4, 2)]),
    ("multi_dot_vectors", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4,)]),
    ("matrix_rank", lambda m, a: m.linalg.matrix_rank(a[..., :2] @ a.mT[..., :2, :]), [(2, 4, 3)]),
    ("matrix_rank_atol", lambda m, a: m.linalg.matrix_rank(a, atol=1.0, rtol=0.1), [(3, 5, 4)]),
    ("matrix_rank_hermitian",
     lambda m, a: m.linalg.matrix_rank(a @ a.mT, hermitian=True), [(2, 4, 2)]),
]  # fmt: skip


def inputs(shapes):
    arrays = []
    for i, spec in enumerate(shapes):
        if isinstance(spec[0], str):
            arrays.append(well_conditioned(spec[1], seed=i))
        else:
            arrays.append(random(spec, seed=i))
    return arrays


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(device, case, dtype):
    _, fn, shapes = case
    compare(torch, device, lambda *x: fn(plugrad, *x), lambda *x: fn(torch, *x),
            inputs(shapes), dtype=dtype, grad=dtype == "float64")  # fmt: skip


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_extras_follow_torchs_drivers(device, driver):
    """Which of residuals, rank and singular values each driver fills, as torch on the CPU."""
    a, b = random((2, 5, 3)), random((2, 5, 2), seed=1)
    ours = plugrad.linalg.lstsq(
        plugrad.tensor(a, device=device, dtype="float64"),
        plugrad.tensor(b, device=device, dtype="float64"),
        driver=driver,
    )
    theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
    for field in ("residuals", "rank", "singular_values"):
        got, expected = getattr(ours, field), getattr(theirs, field)
        assert got.shape == tuple(expected.shape), field
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, err_msg=field)
    assert ours.rank.dtype is plugrad.int64


def test_lstsq_of_a_rank_deficient_matrix_gives_the_minimum_norm_solution(device):
    a = random((5, 3))
    a[:, 2] = a[:, 0] + a[:, 1]
    b = random((5, 2), seed=1)
    result = plugrad.linalg.lstsq(plugrad.tensor(a, device=device, dtype="float64"),
                                  plugrad.tensor(b, device=device, dtype="float64"),
                                  driver="gelsd")  # fmt: skip
    expected, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(result.solution.numpy(), expected, atol=1e-10)
    assert result.rank.item() == rank == 2
    assert result.residuals.shape == (0,)  # not full rank: empty, as torch's
