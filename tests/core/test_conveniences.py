"""torch's conveniences (plugrad.api.convenience, plugrad.printing) against torch: the new_*
factories, layout queries on views, t(), type_as, clone, format() and set_printoptions."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad import printing

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


@pytest.fixture
def restore_printoptions():
    saved = dict(printing._options)
    yield
    printing._options.clear()
    printing._options.update(saved)


def test_format_of_one_element_tensors(device):
    loss = plugrad.tensor(1.23456, device=device)
    assert f"{loss:.3f}" == f"{torch.tensor(1.23456):.3f}" == "1.235"
    assert f"{plugrad.tensor(7, device=device):04d}" == "0007"
    assert f"{plugrad.tensor([1.0, 2.0], device=device)}" == repr(
        plugrad.tensor([1.0, 2.0], device=device)
    )
    with pytest.raises(TypeError, match="only 0-d tensors"):
        f"{plugrad.tensor([1.0, 2.0], device=device):.2f}"


def test_new_factories_take_dtype_and_device_from_the_tensor(device):
    x = plugrad.tensor([1.5, 2.5], dtype="float64", device=device)
    tx = torch.tensor([1.5, 2.5], dtype=torch.float64)
    for ours, theirs in [
        (x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((3,)), tx.new_ones((3,))),
        (x.new_full((2, 2), 4.0), tx.new_full((2, 2), 4.0)),
        (x.new_tensor([[1, 2]]), tx.new_tensor([[1, 2]])),
        (x.new_zeros(2, dtype=plugrad.int64), tx.new_zeros(2, dtype=torch.int64)),
    ]:  # fmt: skip
        assert ours.shape == tuple(theirs.shape) and ours.device is x.device
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.new_empty(4, 1).shape == (4, 1) and x.new_empty(()).shape == ()
    grown = x.new_ones(2, requires_grad=True)
    assert grown.requires_grad and grown.is_leaf
    copied = x.new_tensor(x)
    assert not copied.requires_grad and copied.array.buffer is not x.array.buffer


def test_layout_queries_match_torch_on_views(device):
    base = np.arange(24.0).reshape(2, 3, 4)
    x, tx = plugrad.tensor(base, dtype="float32", device=device), torch.tensor(base).float()
    for view in (lambda t: t, lambda t: t.transpose(0, 2), lambda t: t[1:, ::2, 1],
                 lambda t: t[:, 1], lambda t: t[0, 0, :1]):  # fmt: skip
        ours, theirs = view(x), view(tx)
        assert ours.stride() == theirs.stride()
        assert ours.stride(-1) == theirs.stride(-1)
        assert ours.storage_offset() == theirs.storage_offset()
        assert ours.is_contiguous() == theirs.is_contiguous()
        assert ours.element_size() == theirs.element_size()
        assert ours.nbytes == theirs.nbytes


def test_t_type_as_and_clone(device):
    a = np.random.default_rng(0).standard_normal((2, 3))
    x = plugrad.tensor(a, dtype="float64", device=device, requires_grad=True)
    (x.t() * plugrad.tensor(a.T, dtype="float64", device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)
    assert plugrad.t(x).shape == (3, 2) and x[0].t().shape == (3,)
    with pytest.raises(RuntimeError, match="at most 2 dimensions"):
        plugrad.zeros(1, 2, 3, device=device).t()
    assert x.type_as(plugrad.tensor([1], device=device)).dtype is plugrad.int64
    z = plugrad.tensor(a, device=device)
    assert z.t_() is z and z.shape == (3, 2) and z.stride() == (1, 3)
    np.testing.assert_array_equal(z.numpy(), a.T)
    with pytest.raises(RuntimeError, match="use .t"):
        x.t_()
    b = np.arange(24.0).reshape(2, 3, 4)
    w = plugrad.tensor(b, device=device)
    assert w.swapaxes_(0, 2) is w and w.shape == (4, 3, 2)
    np.testing.assert_array_equal(w.numpy(), b.swapaxes(0, 2))
    assert w.transpose_(1, 2) is w
    np.testing.assert_array_equal(w.numpy(), b.swapaxes(0, 2).swapaxes(1, 2))
    y = plugrad.clone(x, memory_format=None)
    assert y.requires_grad and y.array.buffer is not x.array.buffer
    assert x.clone(memory_format="contiguous").grad_fn is not None


def test_set_printoptions(restore_printoptions):
    x = plugrad.tensor([1 / 3, 2 / 3], dtype="float64", device="numpy_ref")
    plugrad.set_printoptions(precision=2)
    assert "0.33, 0.67" in repr(x)
    plugrad.set_printoptions(sci_mode=True)
    assert "3.33e-01" in repr(x)
    plugrad.set_printoptions(profile="full", sci_mode=False)
    assert "..." not in repr(plugrad.arange(2000, device="numpy_ref"))
    plugrad.set_printoptions(threshold=10, edgeitems=2)
    assert "..." in repr(plugrad.arange(2000, device="numpy_ref"))
    with pytest.raises(ValueError, match="profile must be one of"):
        plugrad.set_printoptions(profile="long")
    with pytest.raises(ValueError, match="non-negative int"):
        plugrad.set_printoptions(precision=-1)
