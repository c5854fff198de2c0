"""linalg.vector_norm, matrix_norm and norm against torch on every device: every order, dims
and keepdim; gradients at zero and at ties as torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch_oracle import compare, random

import plugrad
import plugrad.linalg

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

VECTOR_ORDS = [2, 1, 3, 0.5, 1.5, -1, -2.5, math.inf, -math.inf, 0]
MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (-1, False), ((0, 2), True), ((), False)])
def test_vector_norm_matches_torch(device, ord, dim, keepdim, dtype):
    x = random((2, 3, 4))
    x[0, 1] = 0.0  # a zero row: torch's gradient there is 0, not nan
    compare(torch, device, lambda t: plugrad.linalg.vector_norm(t, ord, dim, keepdim),
            lambda t: torch.linalg.vector_norm(t, ord, dim, keepdim), [x], dtype=dtype,
            grad=dtype == "float64")  # fmt: skip


def test_inf_norm_shares_its_gradient_among_ties(device):
    x = np.array([[3.0, -3.0, 1.0], [0.5, 2.0, -2.0]])
    compare(torch, device, lambda t: plugrad.linalg.vector_norm(t, math.inf, 1),
            lambda t: torch.linalg.vector_norm(t, math.inf, 1), [x])  # fmt: skip


def test_vector_norm_casts_to_dtype_first(device):
    x = random((3, 4))
    compare(torch, device, lambda t: plugrad.linalg.vector_norm(t, dtype=plugrad.float64),
            lambda t: torch.linalg.vector_norm(t, dtype=torch.float64), [x],
            dtype="float32", grad=False)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((2, 0), True), ((0, 2), False)])
def test_matrix_norm_matches_torch(device, ord, dim, keepdim, dtype):
    compare(torch, device, lambda t: plugrad.linalg.matrix_norm(t, ord, dim, keepdim),
            lambda t: torch.linalg.matrix_norm(t, ord, dim, keepdim), [random((3, 2, 4))],
            dtype=dtype, grad=dtype == "float64")  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [(), (None, 1), (3,), ("fro",), ("nuc", (0, 1)), (math.inf, None, True), (1, -1), (2, (0, 1))],
)
def test_norm_matches_torch(device, args):
    x = random((3, 4)) if len(args) < 2 or args[1] != -1 else random((2, 3, 4))
    if args and args[0] == 3:
        x = x[0]
    compare(torch, device, lambda t: plugrad.linalg.norm(t, *args),
            lambda t: torch.linalg.norm(t, *args), [x])  # fmt: skip


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: plugrad.linalg.vector_norm(x.long()), TypeError, "floating point"),
        (lambda x: plugrad.linalg.vector_norm(x, "fro"), TypeError, "must be a number"),
        (lambda x: plugrad.linalg.vector_norm(x[:0], math.inf), ValueError, "identity"),
        (lambda x: plugrad.linalg.matrix_norm(x, 3), ValueError, "order 3 not supported"),
        (lambda x: plugrad.linalg.matrix_norm(x[0]), ValueError, "at least 2 dimensions"),
        (lambda x: plugrad.linalg.matrix_norm(x, dim=(1, 1)), ValueError, "must be different"),
        (lambda x: plugrad.linalg.matrix_norm(x, dim=(1,)), ValueError, "2-tuple"),
        (lambda x: plugrad.linalg.norm(x[None], 2), ValueError, "1-D or 2-D"),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call(plugrad.ones(3, 4))
