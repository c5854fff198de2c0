"""unique, searchsorted, bucketize, bincount, nonzero, argwhere, where(condition) and
masked_select against torch on every device: results exactly, masked_select's gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
from select_oracle import assert_same, compare, function, torch

import plugrad

NAN = math.nan


def both(x: np.ndarray, device):
    return plugrad.tensor(x, device=device), torch.tensor(x)


@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize(
    "values",
    [
        np.array([3, 1, 3, 2, 1, 1]),
        np.array([[2.5, NAN, 1.0], [NAN, 2.5, -0.0]]),
        np.array([], dtype=np.int64),
        np.array(7),
        np.array([True, False, True]),
    ],
    ids=["ints", "floats-with-nan", "empty", "0d", "bools"],
)
def test_unique(device, flags, values):
    inverse, counts = flags
    ours, theirs = both(values, device)
    for sorted_ in (True, False):
        got = plugrad.unique(ours, sorted_, inverse, counts)
        want = torch.unique(theirs, sorted=True, return_inverse=inverse, return_counts=counts)
        assert_same(got, want, "float64", "unique")
    assert_same(ours.unique(return_counts=counts), theirs.unique(return_counts=counts), "float64")


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("flags", [(False, False), (True, True)])
def test_unique_slices_along_a_dim(device, dim, flags):
    rng = np.random.default_rng(dim + 2)
    x = rng.integers(0, 2, size=(6, 3, 2))
    x[3] = x[0]
    ours, theirs = both(x, device)
    got = plugrad.unique(ours, return_inverse=flags[0], return_counts=flags[1], dim=dim)
    want = torch.unique(theirs, return_inverse=flags[0], return_counts=flags[1], dim=dim)
    assert_same(got, want, "float64", f"unique dim={dim}")


def test_unique_of_float_rows(device):
    x = np.array([[1.5, 2.0], [0.5, 3.0], [1.5, 2.0], [1.5, -1.0]])
    ours, theirs = both(x, device)
    assert_same(
        ours.unique(dim=0, return_counts=True), theirs.unique(dim=0, return_counts=True), "float64"
    )


SEQUENCE = np.array([-1.0, 0.5, 0.5, 2.0, 3.0, 3.0, 3.0, 10.0])


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_one_sequence_many_values(device, right):
    values = np.array([[-5.0, -1.0, 0.5, 1.0], [3.0, 10.0, 11.0, NAN]])
    side = "right" if right else "left"
    for kwargs in ({"right": right}, {"side": side}):
        compare(
            function(plugrad, "searchsorted", **kwargs),
            function(torch, "searchsorted", **kwargs),
            [SEQUENCE, values],
            device,
            grad=False,
        )


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_row_by_row_with_a_sorter(device, right):
    rng = np.random.default_rng(0)
    seq = np.sort(rng.integers(0, 6, size=(3, 2, 7)), axis=-1)
    values = rng.integers(-1, 8, size=(3, 2, 4))
    compare(
        lambda s, v: plugrad.searchsorted(s, v, right=right),
        lambda s, v: torch.searchsorted(s, v, right=right),
        [seq, values],
        device,
        grad=False,
    )
    shuffled = rng.permuted(seq, axis=-1)
    sorter = np.argsort(shuffled, axis=-1, kind="stable")
    compare(
        lambda s, v, o: plugrad.searchsorted(s, v, right=right, sorter=o),
        lambda s, v, o: torch.searchsorted(s, v, right=right, sorter=o),
        [shuffled, values, sorter],
        device,
        grad=False,
    )


def test_searchsorted_of_a_number_and_mixed_dtypes(device):
    seq = plugrad.tensor([1, 3, 5], device=device)
    assert (
        plugrad.searchsorted(seq, 4).item() == torch.searchsorted(torch.tensor([1, 3, 5]), 4).item()
    )
    got = plugrad.searchsorted(seq, plugrad.tensor([1.5, 3.0], device=device))
    assert (
        got.tolist()
        == torch.searchsorted(torch.tensor([1, 3, 5]), torch.tensor([1.5, 3.0])).tolist()
    )


def test_searchsorted_refusals(device):
    seq = plugrad.tensor([[1.0, 2.0]], device=device)
    with pytest.raises(ValueError, match="contradict"):
        plugrad.searchsorted(seq, seq, side="left", right=True)
    with pytest.raises(ValueError, match="side"):
        plugrad.searchsorted(seq, seq, side="middle")
    with pytest.raises(ValueError, match="match"):
        plugrad.searchsorted(seq, plugrad.tensor([[1.0], [2.0]], device=device))


@pytest.mark.parametrize("right", [False, True])
def test_bucketize(device, right):
    x = np.array([[-2.0, 0.5, 1.0], [2.5, 3.0, 99.0]])
    compare(
        lambda v, b: plugrad.bucketize(v, b, right=right),
        lambda v, b: torch.bucketize(v, b, right=right),
        [x, SEQUENCE],
        device,
        grad=False,
    )


@pytest.mark.parametrize("weights", [None, "float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("minlength", [0, 3, 12])
def test_bincount(device, weights, minlength):
    x = np.array([0, 4, 1, 1, 7, 4, 4])
    w = None
    if weights is not None:
        w = np.random.default_rng(1).integers(0, 3, size=x.shape).astype(weights)
    ours = plugrad.tensor(x, device=device).bincount(
        None if w is None else plugrad.tensor(w, device=device), minlength
    )
    theirs = torch.tensor(x).bincount(None if w is None else torch.tensor(w), minlength)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_bincount_of_nothing_and_refusals(device):
    empty = plugrad.tensor(np.zeros(0, dtype=np.int64), device=device)
    assert empty.bincount().tolist() == [] and empty.bincount(minlength=2).tolist() == [0, 0]
    for bad in (plugrad.tensor([[0]], device=device), plugrad.tensor([1.0], device=device)):
        with pytest.raises(ValueError, match="1-d non-negative"):
            bad.bincount()
    with pytest.raises(ValueError, match="non-negative"):
        plugrad.tensor([-1], device=device).bincount()


@pytest.mark.parametrize(
    "x",
    [
        np.array([[0.0, 1.5, 0.0], [NAN, 0.0, -2.0]]),
        np.array([[True, False], [False, True]]),
        np.array(3.0),
        np.array(0.0),
        np.zeros((2, 0)),
        np.arange(24).reshape(2, 3, 4) % 3,
    ],
    ids=["floats", "bools", "0d", "0d-zero", "empty", "3d"],
)
def test_nonzero_argwhere_and_where_of_a_condition(device, x):
    ours, theirs = both(x, device)
    assert_same(ours.nonzero(), theirs.nonzero(), "float64", "nonzero")
    assert_same(
        plugrad.nonzero(ours, as_tuple=True),
        torch.nonzero(theirs, as_tuple=True),
        "float64",
        "nonzero(as_tuple)",
    )
    assert_same(ours.argwhere(), theirs.argwhere(), "float64", "argwhere")
    if x.ndim:
        assert_same(plugrad.where(ours), torch.where(theirs), "float64", "where(condition)")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 1, 3), (4, 1))], ids=str
)
def test_masked_select_broadcasts_and_sends_the_gradient_back(device, dtype, shapes):
    rng = np.random.default_rng(3)
    x, mask = rng.normal(size=shapes[0]), rng.random(shapes[1]) < 0.5
    compare(
        lambda t, m: t.masked_select(m), lambda t, m: t.masked_select(m), [x, mask], device, dtype
    )
    compare(
        lambda t, m: plugrad.masked_select(t, m),
        lambda t, m: torch.masked_select(t, m),
        [x, mask],
        device,
        dtype,
    )


def test_masked_select_needs_a_bool_mask(device):
    with pytest.raises(TypeError, match="bool"):
        plugrad.tensor([1.0], device=device).masked_select(plugrad.tensor([1], device=device))
