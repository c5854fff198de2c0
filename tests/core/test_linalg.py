"""plugrad.linalg's behaviour beyond matching torch's numbers: gradients against finite
differences (first and second order), degenerate spectra, singular matrices, empty inputs,
the named-tuple results, and errors that say what was wrong."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.linalg as la
from plugrad.autograd import gradcheck, gradgradcheck


def leaf(array, device, grad=True):
    return plugrad.tensor(np.asarray(array), dtype="float64", device=device, requires_grad=grad)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def shifted(shape, seed):
    """Random values; square matrices get 2 I added, to stay well away from singular."""
    values = rand(*shape, seed=seed)
    square = len(shape) >= 2 and shape[-1] == shape[-2]
    return values + 2 * np.eye(shape[-1]) if square else values


def spd_of(x):
    return x @ x.mT + x.shape[-1] * plugrad.eye(x.shape[-1], dtype=x.dtype, device=x.device)


GRADCHECKS = [
    ("solve", lambda a, b: la.solve(a, b), [(2, 3, 3), (2, 3, 2)]),
    ("inv", lambda a: la.inv(a), [(3, 3)]),
    ("det", lambda a: la.det(a), [(2, 3, 3)]),
    ("slogdet", lambda a: la.slogdet(a).logabsdet, [(3, 3)]),
    ("cholesky", lambda a: la.cholesky(spd_of(a)), [(3, 3)]),
    ("qr_tall", lambda a: tuple(la.qr(a)), [(4, 3)]),
    ("qr_wide", lambda a: tuple(la.qr(a)), [(2, 4)]),
    ("qr_r", lambda a: la.qr(a, mode="r").R, [(4, 3)]),  # (torch refuses this gradient)
    ("eigh", lambda a: (lambda r: (r[0], r[1] * r[1]))(la.eigh(a + a.mT)), [(3, 3)]),
    ("svd", lambda a: (lambda r: (r.S, r.U * r.U, r.Vh * r.Vh))(la.svd(a, False)), [(4, 3)]),
    ("svdvals", lambda a: la.svdvals(a), [(3, 4)]),
    ("pinv", lambda a: la.pinv(a), [(4, 3)]),
    ("lstsq", lambda a, b: la.lstsq(a, b).solution, [(4, 2), (4, 3)]),
    ("matrix_norm_nuc", lambda a: la.matrix_norm(a, "nuc"), [(3, 4)]),
]


@pytest.mark.parametrize("case", GRADCHECKS, ids=[c[0] for c in GRADCHECKS])
def test_gradients_match_finite_differences(device, case):
    _, fn, shapes = case
    inputs = [leaf(shifted(s, i), device) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)


SECOND_ORDER = [
    ("solve", lambda a, b: la.solve(a, b), [(3, 3), (3, 1)]),
    ("det", lambda a: la.det(a), [(3, 3)]),
    ("cholesky", lambda a: la.cholesky(spd_of(a)), [(2, 2)]),
    ("eigvalsh", lambda a: la.eigvalsh(a + a.mT), [(3, 3)]),
    ("pinv", lambda a: la.pinv(a), [(3, 2)]),
    ("inv", lambda a: la.inv(a), [(3, 3)]),
    ("qr", lambda a: tuple(la.qr(a)), [(3, 2)]),
    ("eigh", lambda a: (lambda r: (r[0], r[1] * r[1]))(la.eigh(a + a.mT)), [(3, 3)]),
    ("svd", lambda a: (lambda r: (r.S, r.U * r.U, r.Vh * r.Vh))(la.svd(a, False)), [(3, 2)]),
    ("lstsq", lambda a, b: la.lstsq(a, b).solution, [(4, 2), (4, 1)]),
    ("vector_norm", lambda a: la.vector_norm(a, 3), [(4,)]),
]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_gradients_match_finite_differences(case):
    _, fn, shapes = case
    inputs = [leaf(shifted(s, i), "cpu") for i, s in enumerate(shapes)]
    assert gradgradcheck(fn, inputs)


def test_singular_values_of_the_identity_have_a_finite_gradient(device):
    """Repeated singular values: a loss of S alone gets U Vh (torch's svdvals path), even
    through svd, because U and Vh received no gradient."""
    x = leaf(np.eye(3), device)
    la.svd(x).S.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.eye(3), atol=1e-12)
    y = leaf(np.eye(3), device)
    la.matrix_norm(y, "nuc").backward()
    np.testing.assert_allclose(y.grad.numpy(), np.eye(3), atol=1e-12)


def test_repeated_eigenvalues_have_a_finite_gradient_of_the_eigenvalues(device):
    x = leaf(2 * np.eye(3), device)
    values, _ = la.eigh(x)
    (values * plugrad.tensor([1.0, 2.0, 3.0], dtype="float64", device=device)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(np.trace(x.grad.numpy()), 6.0)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix(device):
    """d det / dA is the cofactor matrix, non-zero at a rank n-1 matrix (torch returns 0
    there; plugrad gives the true gradient)."""
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    cofactors = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                           for j in range(3)] for i in range(3)])  # fmt: skip
    x = leaf(a, device)
    d = la.det(x)
    assert d.item() == 0.0
    d.backward()
    np.testing.assert_allclose(x.grad.numpy(), cofactors, atol=1e-12)


def test_results_are_torchs_named_tuples(device):
    a = plugrad.tensor(rand(3, 3) + 3 * np.eye(3), dtype="float64", device=device)
    assert la.qr(a)._fields == ("Q", "R")
    assert la.svd(a)._fields == ("U", "S", "Vh")
    assert la.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert la.slogdet(a)._fields == ("sign", "logabsdet")
    assert la.lstsq(a, a)._fields == ("solution", "residuals", "rank", "singular_values")
    assert plugrad.svd(a)._fields == ("U", "S", "V")
    sign, logabsdet = la.slogdet(a)
    np.testing.assert_allclose((sign * logabsdet.exp()).item(), np.linalg.det(a.numpy()))


def test_torch_svd_without_vectors_gives_zero_matrices(device):
    a = plugrad.tensor(rand(4, 3), dtype="float64", device=device)
    u, s, v = plugrad.svd(a, compute_uv=False)
    assert u.shape == (4, 4) and v.shape == (3, 3)
    assert not u.numpy().any() and not v.numpy().any()
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a.numpy(), compute_uv=False))


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (3, 0), (0, 4), (0, 2, 2)])
def test_empty_inputs(device, shape):
    a = plugrad.zeros(*shape, dtype="float64", device=device)
    q, r = la.qr(a)
    assert q.shape == shape[:-1] + (min(shape[-2:]),) and r.shape == shape[:-2] + (
        min(shape[-2:]), shape[-1])  # fmt: skip
    assert la.svdvals(a).shape == shape[:-2] + (min(shape[-2:]),)
    assert la.pinv(a).shape == shape[:-2] + (shape[-1], shape[-2])
    if shape[-1] == shape[-2]:
        assert la.det(a).tolist() == np.ones(shape[:-2]).tolist()  # det of a 0x0 matrix is 1
        assert la.inv(a).shape == shape
        assert la.cholesky(a).shape == shape
        assert la.eigvalsh(a).shape == shape[:-1]


def test_decomposition_outputs_written_in_place_refuse_the_backward(device):
    """Q and R share the decomposition's storage: writing Q invalidates its gradient."""
    x = leaf(rand(4, 3), device)
    q, r = la.qr(x)
    loss = (q * r.sum()).sum()
    q.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_complete_qr_of_a_tall_matrix_refuses_its_gradient(device):
    x = leaf(rand(4, 3), device)
    q, _ = la.qr(x, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        q.sum().backward()


def test_batched_matrices_are_solved_at_once(device):
    a = rand(5, 2, 3, 3) + 3 * np.eye(3)
    b = rand(5, 2, 3, seed=1)
    x = la.solve(
        plugrad.tensor(a, dtype="float32", device=device),
        plugrad.tensor(b, dtype="float32", device=device),
    )
    assert x.dtype is plugrad.float32
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-4)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda a: la.inv(a[..., :2]),
            ValueError,
            "batches of square matrices, but they are 3 by 2",
        ),
        (lambda a: la.det(a[0, 0]), ValueError, "at least 2 dimensions"),
        (lambda a: la.inv(a.long()), TypeError, "expected a floating point tensor as A, got int64"),
        (lambda a: la.solve(a, a.double()), TypeError, "same dtype"),
        (lambda a: la.solve(a, a[:, :2, :]), ValueError, "incompatible shapes"),
        (lambda a: la.qr(a, mode="full"), ValueError, "unrecognized mode 'full'"),
        (lambda a: la.eigh(a, UPLO="X"), ValueError, "'L' or 'U'"),
        (lambda a: la.svd(a, driver="gesvd"), ValueError, "driver="),
        (lambda a: la.lstsq(a, a, driver="gelsx"), ValueError, "should be one of"),
        (lambda a: la.lstsq(a, a[:, :2]), ValueError, "same number of rows"),
        (lambda a: la.matrix_power(a, 1.5), TypeError, "n must be an int"),
        (lambda a: la.pinv(a, atol="big"), TypeError, "atol must be a float or a Tensor"),
        (lambda a: la.cross(a[..., :2], a[..., :2]), ValueError, "must have length 3"),
        (lambda a: la.multi_dot([a[0]]), ValueError, "at least 2 tensors"),
        (lambda a: la.multi_dot([a[0], a, a[0]]), ValueError, "tensor 1 must be 2D, got 3D"),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    a = plugrad.ones(2, 3, 3)
    with pytest.raises(error, match=words):
        call(a)


@pytest.mark.parametrize(
    "fn, words",
    [
        (
            lambda a: la.inv(a),
            "linalg.inv: \\(Batch element 1\\): The solver failed because the "
            "input matrix is singular",
        ),
        (lambda a: la.solve(a, a), "linalg.solve: \\(Batch element 1\\)"),
        (
            lambda a: la.cholesky(a),
            "linalg.cholesky: \\(Batch element 1\\): The factorization "
            "could not be completed because the input is not positive-definite "
            "\\(the leading minor of order 2 is not positive-definite\\)",
        ),
    ],
)
def test_failed_matrices_raise_linalg_error_naming_the_batch_element(device, fn, words):
    a = plugrad.tensor(np.stack([np.eye(3), np.ones((3, 3))]), device=device)
    with pytest.raises(la.LinAlgError, match=words):
        fn(a)
    assert issubclass(la.LinAlgError, RuntimeError)  # as torch's


def test_concurrent_backward_passes_through_one_svd_keep_their_outputs_apart():
    """Which outputs received a gradient is tracked per backward pass (per thread): a pass
    through S alone stays finite at repeated singular values while another thread's pass
    through U divides by their zero gaps."""
    import threading

    from plugrad.autograd import grad

    x = leaf(np.eye(3), "cpu")
    u, s, _ = la.svd(x)
    values_only, vectors = s.sum(), (u[:, 0] * u[:, 0]).sum()
    finite = []

    def values_pass():
        for _ in range(40):
            (g,) = grad(values_only, [x], retain_graph=True)
            finite.append(bool(np.isfinite(g.numpy()).all()))

    def vectors_pass():
        for _ in range(40):
            grad(vectors, [x], retain_graph=True)

    threads = [threading.Thread(target=values_pass), threading.Thread(target=vectors_pass)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert finite == [True] * 40
