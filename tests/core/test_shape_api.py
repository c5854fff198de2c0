"""The shape family (plugrad.api.shape and plugrad.api.matrix) against torch on every device:
values and gradients in float64, values in float32; views where torch's are views."""

from __future__ import annotations

import numpy as np
import pytest
from torch_oracle import compare, random

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

# (id, function of the tensors (plugrad's or torch's, by the module passed), input shapes)
CASES = [
    ("repeat", lambda m, x: x.repeat(2, 1, 3), [(2, 3)]),
    ("repeat_same_ndim", lambda m, x: x.repeat(1, 2), [(2, 3)]),
    ("tile", lambda m, x: m.tile(x, (2,)), [(2, 3)]),
    ("tile_longer", lambda m, x: x.tile((2, 1, 2)), [(2, 3)]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(2), [(2, 3)]),
    ("repeat_interleave_dim", lambda m, x: m.repeat_interleave(x, 3, dim=1), [(2, 3)]),
    ("repeat_interleave_counts",
     lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=-1), [(2, 3)]),
    ("roll", lambda m, x: m.roll(x, 1, 1), [(2, 3)]),
    ("roll_flat", lambda m, x: x.roll(-4), [(2, 3)]),
    ("roll_two_dims", lambda m, x: x.roll((1, -1), (0, 2)), [(2, 3, 4)]),
    ("unbind", lambda m, x: m.unbind(x, 1), [(2, 3, 2)]),
    ("movedim", lambda m, x: m.movedim(x, 0, -1), [(2, 3, 4)]),
    ("movedim_pairs", lambda m, x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    ("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [(2, 3, 4)]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 2), [(2, 3, 4)]),
    ("swapdims", lambda m, x: x.swapdims(1, 0), [(2, 3)]),
    ("narrow", lambda m, x: m.narrow(x, 1, 1, 2), [(2, 4)]),
    ("narrow_negative", lambda m, x: x.narrow(-1, -3, 2), [(2, 4)]),
    ("unflatten", lambda m, x: m.unflatten(x, 1, (2, -1)), [(3, 6)]),
    ("view_as", lambda m, x, y: x.view_as(y), [(2, 6), (3, 4)]),
    ("reshape_as", lambda m, x, y: x.mT.reshape_as(y), [(2, 6), (3, 4)]),
    ("expand_as", lambda m, x, y: x.expand_as(y), [(3, 1), (2, 3, 4)]),
    ("tril", lambda m, x: m.tril(x), [(3, 4)]),
    ("tril_offset", lambda m, x: x.tril(-1), [(2, 3, 4)]),
    ("triu", lambda m, x: m.triu(x, 1), [(2, 4, 3)]),
    ("diag_vector", lambda m, x: m.diag(x), [(3,)]),
    ("diag_vector_offset", lambda m, x: x.diag(-2), [(3,)]),
    ("diag_matrix", lambda m, x: m.diag(x, 1), [(3, 4)]),
    ("diag_embed", lambda m, x: m.diag_embed(x), [(2, 3)]),
    ("diag_embed_dims", lambda m, x: x.diag_embed(1, 0, 2), [(2, 3)]),
    ("diagonal", lambda m, x: m.diagonal(x), [(3, 4)]),
    ("diagonal_dims", lambda m, x: x.diagonal(-1, 2, 0), [(3, 2, 4)]),
    ("trace", lambda m, x: m.trace(x), [(3, 4)]),
    ("outer", lambda m, x, y: m.outer(x, y), [(3,), (4,)]),
    ("kron", lambda m, x, y: m.kron(x, y), [(2, 3), (2, 2)]),
    ("kron_ndims", lambda m, x, y: x.kron(y), [(2,), (3, 2, 2)]),
    ("tensordot", lambda m, x, y: m.tensordot(x, y), [(2, 3, 4), (3, 4, 5)]),
    ("tensordot_lists", lambda m, x, y: m.tensordot(x, y, ([0, 2], [1, 0])), [(2, 3, 4), (4, 2)]),
    ("tensordot_zero", lambda m, x, y: m.tensordot(x, y, 0), [(2,), (3,)]),
    ("meshgrid", lambda m, x, y: m.meshgrid(x, y, indexing="ij"), [(3,), (2,)]),
    ("meshgrid_xy", lambda m, x, y, z: m.meshgrid([x, y, z], indexing="xy"), [(3,), (2,), (4,)]),
]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(device, case, dtype):
    _, fn, shapes = case
    arrays = [random(s, seed=i) for i, s in enumerate(shapes)]
    compare(torch, device, lambda *x: fn(plugrad, *x), lambda *x: fn(torch, *x), arrays,
            dtype=dtype, grad=dtype == "float64")  # fmt: skip


INTEGER_CASES = [
    ("repeat", lambda m, x: x.repeat(2, 2)),
    ("roll", lambda m, x: x.roll(1, 0)),
    ("tril", lambda m, x: x.tril()),
    ("triu", lambda m, x: x.triu(-1)),
    ("diag", lambda m, x: m.diag(x)),
    ("trace", lambda m, x: x.trace()),
    ("kron", lambda m, x: m.kron(x, x)),
    ("tensordot", lambda m, x: m.tensordot(x, x, 1)),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(2, 0)),
]


@pytest.mark.parametrize("case", INTEGER_CASES, ids=[c[0] for c in INTEGER_CASES])
def test_integer_tensors_match_torch(device, case):
    _, fn = case
    values = np.arange(-4, 5, dtype=np.int64).reshape(3, 3)
    compare(torch, device, lambda x: fn(plugrad, x), lambda x: fn(torch, x), [values])


VIEWS = [
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("unbind", lambda x: x.unbind(1)[1]),
    ("movedim", lambda x: x.movedim(0, 1)),
    ("swapaxes", lambda x: x.swapaxes(0, 1)),
    ("diagonal", lambda x: x.diagonal(1)),
    ("view_as", lambda x: x.view_as(plugrad.zeros(12))),
    ("unflatten", lambda x: x.unflatten(1, (2, 2))),
]


@pytest.mark.parametrize("case", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_share_memory_and_write_through(device, case):
    """A write into the view shows in the base (no copy), as torch's views."""
    _, fn = case
    base = plugrad.arange(12.0, device=device).reshape(3, 4)
    view = fn(base)
    assert view.array.buffer is base.array.buffer
    view.fill_(-1.0)
    assert (base == -1.0).sum().item() == view.numel()


def test_diagonal_view_of_a_tensor_requiring_grad_records_in_place_writes(device):
    """A write through a diagonal view reaches the base's gradient, as in torch."""
    x = plugrad.tensor(random((3, 3)), dtype="float64", device=device, requires_grad=True)
    tx = torch.tensor(x.detach().numpy().copy(), requires_grad=True)
    y, ty = x * 1.0, tx * 1.0
    y.diagonal().mul_(3.0)
    ty.diagonal().mul_(3.0)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_repeat_interleave_of_counts_alone(device):
    counts = plugrad.tensor([2, 0, 3], device=device)
    assert plugrad.repeat_interleave(counts).tolist() == [0, 0, 2, 2, 2]


def test_inplace_triangles_write_into_the_tensor(device):
    x = plugrad.ones(3, 3, device=device)
    assert x.tril_() is x
    assert x.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    x.triu_(1)
    assert x.sum().item() == 0


def test_meshgrid_outputs_are_expanded_views(device):
    a, b = plugrad.arange(3.0, device=device), plugrad.arange(2.0, device=device)
    ga, gb = plugrad.meshgrid(a, b)  # torch's default indexing, 'ij'
    assert ga.shape == gb.shape == (3, 2)
    assert ga.array.buffer is a.array.buffer and 0 in ga.array.strides


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: x.repeat(2), ValueError, "at least one per dimension"),
        (lambda x: x.narrow(1, 2, 3), ValueError, "exceeds dimension size (4)"),
        (lambda x: x.narrow(0, 5, 0), IndexError, "start out of range"),
        (lambda x: x.unflatten(1, (3, 2)), ValueError, "don't multiply up to the size of dim 1"),
        (lambda x: x.roll((1, 2), 0), ValueError, "same length"),
        (lambda x: x.movedim((0, 0), (1, 0)), ValueError, "repeated dim in source"),
        (lambda x: x.repeat_interleave(plugrad.tensor([1, 2]), 1), ValueError, "one count per"),
        (lambda x: x.repeat_interleave(-1), ValueError, "at least 0"),
        (lambda x: plugrad.tril(x[0]), ValueError, "at least 2 dimensions"),
        (lambda x: plugrad.trace(x[None]), ValueError, "expected a matrix"),
        (lambda x: plugrad.diag(x[None]), ValueError, "1D or 2D"),
        (lambda x: x.diagonal(0, 1, 1), ValueError, "cannot be identical"),
        (lambda x: plugrad.outer(x, x[0]), ValueError, "1-D tensor as input"),
        (lambda x: plugrad.tensordot(x, x, ([1], [1, 0])), ValueError, "same length"),
        (lambda x: plugrad.tensordot(x, x, ([1], [0])), ValueError, "need to match"),
        (lambda x: plugrad.meshgrid(x), ValueError, "0D or 1D"),
        (lambda x: plugrad.meshgrid(x[0], x[0], indexing="yx"), ValueError, "'ij' or 'xy'"),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    x = plugrad.zeros(3, 4)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(x)
