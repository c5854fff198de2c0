"""normalize, cosine_similarity and pairwise_distance (and their modules) against torch on
identical inputs, on every installed device: values and gradients of both inputs, several
norms and dimensions, broadcasting, and zero vectors (where torch's gradients are 0)."""

from __future__ import annotations

import math

import pytest
from test_loss_torch import compare_all_grads
from test_nn_torch import make

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)
tf = torch.nn.functional


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("dim", [1, 0, -1])
def test_normalize(device, dtype, p, dim):
    x = make((4, 5, 3), device, dtype)
    compare_all_grads(lambda a: F.normalize(a, p, dim), lambda a: tf.normalize(a, p, dim),
                      [x], device, dtype)  # fmt: skip


def test_normalize_zero_rows_and_out(device, dtype):
    x = make((3, 4), device, dtype)
    x = plugrad.where(plugrad.tensor([[True], [False], [True]], device=device), x, 0.0)
    compare_all_grads(F.normalize, tf.normalize, [x], device, dtype)
    out = plugrad.empty(3, 4, dtype=dtype, device=device)
    assert F.normalize(x, out=out) is out
    assert out.allclose(F.normalize(x))


@pytest.mark.parametrize("shapes,dim", [
    (((5, 4), (5, 4)), 1), (((3, 4, 2), (3, 4, 2)), -1), (((6, 3), (3,)), 1),
    (((2, 1, 4), (3, 4)), 2), (((4,), (4,)), 0),
])  # fmt: skip
def test_cosine_similarity(device, dtype, shapes, dim):
    x1, x2 = make(shapes[0], device, dtype), make(shapes[1], device, dtype, seed=1)
    compare_all_grads(lambda a, b: F.cosine_similarity(a, b, dim),
                      lambda a, b: tf.cosine_similarity(a, b, dim),
                      [x1, x2], device, dtype)  # fmt: skip
    module = nn.CosineSimilarity(dim=dim)
    compare_all_grads(module, torch.nn.CosineSimilarity(dim=dim), [x1, x2], device, dtype)


def test_cosine_similarity_of_a_zero_vector(device, dtype):
    """Norms under eps are clamped without a gradient of their own, as torch does."""
    x1 = make((3, 4), device, dtype)
    x2 = plugrad.where(plugrad.tensor([[True], [False], [True]], device=device),
                       make((3, 4), device, dtype, seed=1), 0.0)  # fmt: skip
    compare_all_grads(F.cosine_similarity, tf.cosine_similarity, [x1, x2], device, dtype)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(device, dtype, p, keepdim):
    x1, x2 = make((6, 4), device, dtype), make((6, 4), device, dtype, seed=1)
    compare_all_grads(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
                      lambda a, b: tf.pairwise_distance(a, b, p, keepdim=keepdim),
                      [x1, x2], device, dtype)  # fmt: skip
    module = nn.PairwiseDistance(p, eps=1e-3, keepdim=keepdim)
    theirs = torch.nn.PairwiseDistance(p, eps=1e-3, keepdim=keepdim)
    compare_all_grads(module, theirs, [x1, x2[0]], device, dtype)  # x2 broadcasts


def test_pairwise_distance_of_identical_points_and_vectors(device, dtype):
    x = make((5, 3), device, dtype)
    compare_all_grads(lambda a, b: F.pairwise_distance(a, b, eps=0.0),
                      lambda a, b: tf.pairwise_distance(a, b, eps=0.0),
                      [x, x], device, dtype)  # fmt: skip
    v1, v2 = make((4,), device, dtype), make((4,), device, dtype, seed=2)
    compare_all_grads(F.pairwise_distance, tf.pairwise_distance, [v1, v2], device, dtype)
