"""index_select, take, take_along_dim, where (method), masked_fill, index_add, index_copy,
scatter, scatter_add and scatter_reduce against torch on every device: values (float32,
float64), float64 gradients and the in-place forms, repeated indices included."""

from __future__ import annotations

import numpy as np
import pytest
from select_oracle import compare, torch

import plugrad

DTYPES = ["float32", "float64"]


def normal(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_with_repeats(device, dtype, dim):
    x = normal(4, 5, 3, seed=1)
    index = np.array([2, 0, 2, 1])
    compare(
        lambda t, i: t.index_select(dim, i),
        lambda t, i: t.index_select(dim, i),
        [x, index],
        device,
        dtype,
    )
    compare(
        lambda t, i: plugrad.index_select(t, dim, i),
        lambda t, i: torch.index_select(t, dim, i),
        [x, np.array(1)],
        device,
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_take_counts_negative_indices_from_the_end(device, dtype):
    x = normal(3, 4, seed=2)
    index = np.array([[0, -1, 5], [11, -12, 5]])
    compare(lambda t, i: t.take(i), lambda t, i: t.take(i), [x, index], device, dtype)
    compare(
        lambda t, i: plugrad.take(t, i),
        lambda t, i: torch.take(t, i),
        [x, np.array(3)],
        device,
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "x_shape, i_shape, dim",
    [
        ((3, 4), (3, 2), 1),
        ((3, 4), (1, 4), 0),
        ((3, 1, 4), (1, 5, 2), 2),
        ((3, 4), (6,), None),
        ((2, 3), (2, 3), -1),
    ],
    ids=str,
)
def test_take_along_dim_broadcasts(device, dtype, x_shape, i_shape, dim):
    x = normal(*x_shape, seed=3)
    size = int(np.prod(x_shape)) if dim is None else x_shape[dim]
    index = np.random.default_rng(4).integers(-size, size, size=i_shape)
    compare(
        lambda t, i: t.take_along_dim(i, dim),
        lambda t, i: t.take_along_dim(i, dim),
        [x, index],
        device,
        dtype,
    )


def test_take_and_take_along_dim_refuse_out_of_range(device):
    x = plugrad.tensor([[1.0, 2.0]], device=device)
    with pytest.raises(IndexError):
        x.take(plugrad.tensor([2], device=device))
    with pytest.raises(IndexError):
        x.take_along_dim(plugrad.tensor([[-3]], device=device), 1)
    with pytest.raises(ValueError, match="number of dims"):
        x.take_along_dim(plugrad.tensor([0], device=device), 1)
    with pytest.raises(TypeError, match="int64"):
        x.index_select(0, plugrad.tensor([0.0], device=device))


def test_where_method_and_masked_fill_function(device):
    x, y = normal(3, 4, seed=5), normal(4, seed=6)
    condition = x > 0
    compare(lambda t, c, u: t.where(c, u), lambda t, c, u: t.where(c, u), [x, condition, y], device)
    compare(lambda t, c: t.where(c, 0.5), lambda t, c: t.where(c, 0.5), [x, condition], device)
    compare(
        lambda t, c: plugrad.masked_fill(t, c, -1.0),
        lambda t, c: torch.masked_fill(t, c, -1.0),
        [x, condition],
        device,
    )

    def fill_in_place(lib):
        def run(t, c, v):
            y = t * 2.0
            y.masked_fill_(c, v.sum())
            return y

        return run

    compare(fill_in_place(plugrad), fill_in_place(torch), [x, condition[0], y], device)


def test_masked_fill_refuses_a_value_with_dims_and_a_mask_that_grows_self(device):
    x = plugrad.tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match="0-d"):
        x.masked_fill(x > 1, plugrad.tensor([3.0, 4.0], device=device))
    with pytest.raises(RuntimeError, match="broadcast"):
        x.masked_fill(plugrad.tensor([[True], [False]], device=device), 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1])
def test_index_add_function_and_in_place(device, dtype, dim):
    x = normal(4, 3, seed=7)
    source = normal(*((5, 3) if dim == 0 else (4, 5)), seed=8)
    index = np.array([1, 3, 1, 0, 2]) % x.shape[dim]
    compare(
        lambda t, i, s: plugrad.index_add(t, dim, i, s, alpha=2.5),
        lambda t, i, s: torch.index_add(t, dim, i, s, alpha=2.5),
        [x, index, source],
        device,
        dtype,
    )

    def in_place(t, i, s):
        y = t * 1.0
        y.index_add_(dim, i, s, alpha=-1.0)
        return y

    compare(in_place, in_place, [x, index, source], device, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_copy_and_in_place(device, dtype, dim):
    x = normal(4, 5, 3, seed=9)
    index = np.array([2, 0, 1])
    shape = list(x.shape)
    shape[dim] = len(index)
    source = normal(*shape, seed=10)
    compare(
        lambda t, i, s: t.index_copy(dim, i, s),
        lambda t, i, s: t.index_copy(dim, i, s),
        [x, index, source],
        device,
        dtype,
    )

    def in_place(t, i, s):
        y = t * 1.0
        y.index_copy_(dim, i, s)
        return y * 2.0

    compare(in_place, in_place, [x, index, source], device, dtype)


def test_index_copy_refuses_a_source_of_another_shape(device):
    x = plugrad.zeros(3, 2, device=device)
    with pytest.raises(ValueError, match="source"):
        x.index_copy(0, plugrad.tensor([0, 1], device=device), plugrad.ones(3, 2, device=device))


SCATTER_INDEX = np.array([[0, 1, 0, 2], [2, 2, 1, 0], [1, 1, 1, 1]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_of_src_last_write_wins_and_gradients(device, dtype):
    x, src = normal(3, 5, seed=11), normal(3, 4, seed=12)
    compare(
        lambda t, i, s: t.scatter(1, i, s),
        lambda t, i, s: t.scatter(1, i, s),
        [x, SCATTER_INDEX, src],
        device,
        dtype,
    )
    wider = normal(4, 6, seed=12)  # src larger than index: its corner is read (no torch grad)
    compare(
        lambda t, i, s: t.scatter(1, i, s),
        lambda t, i, s: t.scatter(1, i, s),
        [x, SCATTER_INDEX, wider],
        device,
        dtype,
        grad=False,
    )
    index0 = SCATTER_INDEX[:, :3]
    compare(
        lambda t, i, s: plugrad.scatter(t, 0, i, s),
        lambda t, i, s: torch.scatter(t, 0, i, s),
        [x, index0, src[:, :3]],
        device,
        dtype,
    )


def test_scatter_from_a_larger_src_sends_its_corner_the_gradient(device):
    x = plugrad.zeros(2, 3, dtype=plugrad.float64, device=device, requires_grad=True)
    src = plugrad.tensor(normal(3, 4), dtype=plugrad.float64, device=device, requires_grad=True)
    index = plugrad.tensor([[2, 0], [1, 1]], device=device)
    (
        x.scatter(1, index, src)
        * plugrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=plugrad.float64, device=device)
    ).sum().backward()
    expected = np.zeros((3, 4))
    expected[:2, :2] = [[3.0, 1.0], [5.0, 5.0]]
    np.testing.assert_array_equal(src.grad.numpy(), expected)
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [4.0, 0.0, 6.0]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_of_a_value(device, dtype):
    x = normal(3, 5, seed=13)
    compare(
        lambda t, i: t.scatter(1, i, 2.5),
        lambda t, i: t.scatter(1, i, 2.5),
        [x, SCATTER_INDEX],
        device,
        dtype,
    )
    compare(
        lambda t, i: t.scatter(1, i, value=-1.0),
        lambda t, i: t.scatter(1, i, value=-1.0),
        [x, SCATTER_INDEX],
        device,
        dtype,
    )


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(device, dtype, reduce):
    x, src = normal(3, 5, seed=13), normal(3, 4, seed=14)

    def scattered(*value):
        return lambda t, i, *s: (t * 1).scatter_(1, i, *s, *value, reduce=reduce)

    compare(scattered(), scattered(), [x, SCATTER_INDEX, src], device, dtype, grad=False)
    compare(scattered(1.5), scattered(1.5), [x, SCATTER_INDEX], device, dtype, grad=False)


def test_scatter_in_place_and_scatter_add_method(device):
    x, src = normal(3, 5, seed=15), normal(3, 4, seed=16)

    def in_place(t, i, s):
        y = t * 1.0
        y.scatter_(1, i, s)
        y.scatter_add_(1, i, s)
        return y + t.scatter_add(1, i, s)

    compare(in_place, in_place, [x, SCATTER_INDEX, src], device)


def test_scatter_of_integers_and_refusals(device):
    x = np.arange(10).reshape(2, 5)
    index = np.array([[4, 0], [1, 1]])
    got = plugrad.tensor(x, device=device).scatter(1, plugrad.tensor(index, device=device), 7)
    np.testing.assert_array_equal(got.numpy(), torch.tensor(x).scatter(1, torch.tensor(index), 7))
    t = plugrad.tensor(x, device=device)
    with pytest.raises(IndexError):
        t.scatter(1, plugrad.tensor([[5]], device=device), 0)
    with pytest.raises(TypeError, match="dtype"):
        t.scatter(1, plugrad.tensor([[0]], device=device), plugrad.tensor([[1.0]], device=device))
    with pytest.raises(ValueError, match="no larger than src"):
        t.scatter(1, plugrad.tensor([[0, 1]], device=device), plugrad.tensor([[1]], device=device))
    with pytest.raises(TypeError, match="exactly one"):
        t.scatter(1, plugrad.tensor([[0]], device=device))


REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(device, dtype, reduce, include_self):
    x, src = normal(3, 5, seed=17), normal(3, 4, seed=18)
    compare(
        lambda t, i, s: t.scatter_reduce(1, i, s, reduce, include_self=include_self),
        lambda t, i, s: t.scatter_reduce(1, i, s, reduce, include_self=include_self),
        [x, SCATTER_INDEX, src],
        device,
        dtype,
    )


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_extremes_share_the_gradient_among_ties(device, reduce):
    x = np.array([[1.0, 5.0, -3.0, 0.0]])
    src = np.array([[5.0, 1.0, 5.0, 2.0, -3.0, -3.0]])
    index = np.array([[1, 0, 1, 3, 2, 0]])
    compare(
        lambda t, i, s: t.scatter_reduce(1, i, s, reduce),
        lambda t, i, s: t.scatter_reduce(1, i, s, reduce),
        [x, index, src],
        device,
    )


def test_scatter_reduce_without_self_leaves_self_out_of_the_tie(device):
    """With include_self=False an element of self equal to the result takes no share of the
    gradient (torch 2.13 still counts it when sharing, leaving src with half)."""
    x = plugrad.tensor([[3.0, 7.0]], dtype=plugrad.float64, device=device, requires_grad=True)
    src = plugrad.tensor([[3.0, 5.0]], dtype=plugrad.float64, device=device, requires_grad=True)
    index = plugrad.tensor([[0, 0]], device=device)
    out = x.scatter_reduce(1, index, src, "amax", include_self=False)
    assert out.tolist() == [[5.0, 7.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0]] and src.grad.tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradient_with_zeros(device, include_self):
    x = np.array([[2.0, 0.0, 3.0, 1.5]])
    src = np.array([[0.0, 4.0, 0.0, 0.5, 2.0, 0.0]])
    index = np.array([[0, 0, 1, 2, 2, 2]])
    compare(
        lambda t, i, s: t.scatter_reduce(1, i, s, "prod", include_self=include_self),
        lambda t, i, s: t.scatter_reduce(1, i, s, "prod", include_self=include_self),
        [x, index, src],
        device,
    )


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_of_integers_rounds_means_down(device, reduce, include_self):
    x = np.array([1, 2, 3, 4, -7])
    src = np.array([5, 6, -7, -3, 8, 2])
    index = np.array([0, 0, 1, 1, 3, 1])
    got = plugrad.tensor(x, device=device).scatter_reduce(
        0,
        plugrad.tensor(index, device=device),
        plugrad.tensor(src, device=device),
        reduce,
        include_self=include_self,
    )
    want = torch.tensor(x).scatter_reduce(
        0, torch.tensor(index), torch.tensor(src), reduce, include_self=include_self
    )
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_scatter_reduce_in_place_and_refusals(device):
    x, src = normal(3, 5, seed=19), normal(3, 4, seed=20)

    def in_place(t, i, s):
        y = t * 1.0
        y.scatter_reduce_(1, i, s, "mean", include_self=False)
        return y

    compare(in_place, in_place, [x, SCATTER_INDEX, src], device)
    t = plugrad.tensor(x, device=device)
    with pytest.raises(ValueError, match="reduce"):
        t.scatter_reduce(1, plugrad.tensor(SCATTER_INDEX, device=device), t, "max")
    with pytest.raises(TypeError, match="bool"):
        (t > 0).scatter_reduce(1, plugrad.tensor(SCATTER_INDEX, device=device), t > 0, "sum")


@pytest.mark.parametrize("index_dtype", ["int8", "int16", "int32", "uint8"])
def test_index_tensors_of_every_integer_dtype_index_as_numpys(device, index_dtype):
    """x[i], x[0, i], repeat_interleave(repeats) and a 1-element tensor as a Python index,
    with i of any integer dtype (the core widens it to int64), as NumPy and the Array API
    index; torch takes int32 and int64 alike, refuses int8 and int16, and reads uint8 as a
    (deprecated) mask, where plugrad follows NumPy."""
    x = normal(4, 3, seed=7)
    ours = plugrad.tensor(x, device=device)
    i = np.array([3, 0, 2, 0], dtype=getattr(np, index_dtype))
    oi = plugrad.tensor(i, device=device)
    assert oi.dtype.name == index_dtype
    np.testing.assert_array_equal(ours[oi].numpy(), x[i])
    np.testing.assert_array_equal(ours[0, oi[1:]].numpy(), x[0, i[1:]])
    counts = plugrad.repeat_interleave(ours[:, 0], oi)
    np.testing.assert_array_equal(counts.numpy(), np.repeat(x[:, 0], i))
    assert [10, 20, 30, 40][oi[2]] == 30
    if index_dtype == "int32":
        ti = torch.tensor(i.astype(np.int64), dtype=torch.int32)
        np.testing.assert_array_equal(ours[oi].numpy(), torch.tensor(x)[ti].numpy())
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][plugrad.tensor(1.0, device=device)]
