"""all, any, count_nonzero, std_mean, var_mean, aminmax, nansum, nanmean, norm and
linalg.vector_norm / matrix_norm against torch on every device: values (float32, float64) and
float64 gradients, at the edges torch defines (zero vectors, NaN, ties)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from select_oracle import compare, function, method, torch

import plugrad

DTYPES = ["float32", "float64"]
NAN, INF = math.nan, math.inf
DIMS = [None, 0, 1, (0, 2), -1]


def uniform(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)


def sparse(*shape, seed=0) -> np.ndarray:
    x = uniform(*shape, seed=seed)
    x[np.random.default_rng(seed + 1).random(shape) < 0.4] = 0.0
    return x


@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_count_nonzero(device, dim, keepdim):
    x = sparse(3, 4, 2, seed=5)
    mask = x > 0
    for name in ("all", "any"):
        for a in (x, mask):
            if dim is None and keepdim:
                continue  # torch's all()/any() take no keepdim without a dim
            args = () if dim is None else (dim, keepdim)
            compare(method(name, *args), method(name, *args), [a], device, grad=False)
    compare(lambda t: t.count_nonzero(dim), lambda t: t.count_nonzero(dim), [x], device, grad=False)
    compare(
        lambda t: plugrad.count_nonzero(t, dim=dim),
        lambda t: torch.count_nonzero(t, dim=dim),
        [np.where(mask, NAN, 0.0)],
        device,
        grad=False,
    )


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)], ids=str)
def test_all_and_any_of_empty_extents_are_torchs(device, shape):
    """An empty extent has the identities: all is True, any False (no error, as torch)."""
    x = np.zeros(shape, dtype=bool)
    for name in ("all", "any"):
        compare(method(name), method(name), [x], device, grad=False)
        for dim in range(len(shape)):
            for keepdim in (False, True):
                args = (dim, keepdim)
                compare(method(name, *args), method(name, *args), [x], device, grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["std_mean", "var_mean"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_std_mean_var_mean(device, dtype, name, dim, correction):
    x = uniform(4, 3, 5, seed=correction)
    for keepdim in (False, True):
        options = dict(correction=correction, keepdim=keepdim)
        compare(
            function(plugrad, name, dim, **options),
            function(torch, name, dim, **options),
            [x],
            device,
            dtype,
            scale=10,
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_aminmax(device, dtype, dim, keepdim):
    x = np.random.default_rng(1).integers(-3, 4, size=(4, 5)).astype(np.float64)  # ties
    compare(
        lambda t: t.aminmax(dim=dim, keepdim=keepdim),
        lambda t: t.aminmax(dim=dim, keepdim=keepdim),
        [x],
        device,
        dtype,
    )
    result = plugrad.aminmax(plugrad.tensor(x, device=device), dim=dim)
    assert type(result) is plugrad.return_types.aminmax
    assert result.min.shape == result.max.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["nansum", "nanmean"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_nansum_nanmean(device, dtype, name, dim):
    x = uniform(3, 4, 2, seed=2)
    x[np.random.default_rng(4).random(x.shape) < 0.3] = NAN
    x[1] = NAN  # a slice of NaNs only: nansum 0, nanmean NaN
    for keepdim in (False, True):
        compare(method(name, dim, keepdim), method(name, dim, keepdim), [x], device, dtype)
    compare(
        lambda t: getattr(plugrad, name)(t, dtype=plugrad.float64),
        lambda t: getattr(torch, name)(t, dtype=torch.float64),
        [x],
        device,
        dtype,
    )


def test_nansum_of_integers_and_nanmean_refusal(device):
    x = np.array([[1, 2], [3, 4]])
    compare(lambda t: t.nansum(1), lambda t: t.nansum(1), [x], device, grad=False)
    with pytest.raises(TypeError, match="floating"):
        plugrad.tensor(x, device=device).nanmean()


ORDERS = [2, 1, 3, 0.5, 0, INF, -INF, -1.5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ORDERS, ids=str)
@pytest.mark.parametrize("dim", [None, 1, (0, 2)], ids=str)
def test_vector_norm(device, dtype, ord, dim):
    x = sparse(3, 4, 2, seed=3)
    x[0, 0] = 0.0
    for keepdim in (False, True):
        compare(
            function(plugrad, "vector_norm", ord, dim, keepdim),
            function(torch.linalg, "vector_norm", ord, dim, keepdim),
            [x],
            device,
            dtype,
            scale=10,
        )


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, INF], ids=str)
def test_vector_norm_of_zero_vectors_has_torchs_gradient(device, ord):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0], [3.0, 3.0, -3.0]])
    compare(
        lambda t: plugrad.vector_norm(t, ord, 1),
        lambda t: torch.linalg.vector_norm(t, ord, 1),
        [x],
        device,
    )


def test_vector_norm_dtype_and_refusals(device):
    x = np.array([1.0, -2.0, 2.0], dtype=np.float32)
    got = plugrad.vector_norm(plugrad.tensor(x, device=device), dtype=plugrad.float64)
    assert got.dtype is plugrad.float64 and got.item() == 3.0
    with pytest.raises(TypeError, match="floating"):
        plugrad.vector_norm(plugrad.tensor([1, 2], device=device))
    with pytest.raises(TypeError, match="ord"):
        plugrad.vector_norm(plugrad.tensor(x, device=device), "fro")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ["fro", 1, -1, INF, -INF], ids=str)
@pytest.mark.parametrize("dim", [(-2, -1), (0, 2), (2, 0)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(device, dtype, ord, dim, keepdim):
    x = uniform(3, 4, 5, seed=9)
    compare(
        lambda t: plugrad.matrix_norm(t, ord, dim, keepdim),
        lambda t: torch.linalg.matrix_norm(t, ord, dim, keepdim),
        [x],
        device,
        dtype,
        scale=10,
    )


@pytest.mark.parametrize("ord", ["nuc", 2, -2], ids=str)
def test_spectral_and_nuclear_norms(device, ord):
    if getattr(getattr(plugrad, "linalg", None), "svdvals", None) is None:
        pytest.skip("needs plugrad.linalg.svdvals (the linalg family, built on another branch)")
    x = uniform(2, 3, 4, seed=1)
    compare(
        lambda t: plugrad.matrix_norm(t, ord),
        lambda t: torch.linalg.matrix_norm(t, ord),
        [x],
        device,
        scale=100,
    )


def test_matrix_norm_refusals(device):
    x = plugrad.tensor(np.ones((2, 2)), device=device)
    with pytest.raises(ValueError, match="at least 2"):
        plugrad.matrix_norm(plugrad.tensor([1.0], device=device))
    with pytest.raises(ValueError, match="different"):
        plugrad.matrix_norm(x, dim=(1, 1))
    with pytest.raises(ValueError, match="ord"):
        plugrad.matrix_norm(x, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "p, dim",
    [
        ("fro", None),
        ("fro", 1),
        ("fro", (0, 1)),
        (2, None),
        (1, 0),
        (3, (1, 2)),
        (INF, None),
        (0, 1),
        (None, 2),
        (-INF, 1),
    ],
    ids=str,
)
def test_norm(device, dtype, p, dim):
    x = uniform(3, 4, 2, seed=4)
    for keepdim in (False, True):
        compare(
            method("norm", p, dim, keepdim),
            method("norm", p, dim, keepdim),
            [x],
            device,
            dtype,
            scale=10,
        )
    compare(
        lambda t: plugrad.norm(t, p, dtype=plugrad.float64) if p != "fro" else plugrad.norm(t),
        lambda t: torch.norm(t, p, dtype=torch.float64) if p != "fro" else torch.norm(t),
        [x],
        device,
        dtype,
        scale=10,
    )
