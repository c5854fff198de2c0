"""Autograd semantics: accumulation, graph lifetime, grad modes, custom Functions."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad


def test_gradients_accumulate_into_leaves_until_cleared():
    x = plugrad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


def test_a_leaf_used_twice_gets_both_contributions_and_its_own_buffer():
    a = plugrad.tensor([1.0, 2.0], requires_grad=True)
    b = plugrad.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5.0)  # must not change b.grad although both came from one gradient tensor
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])
    c = plugrad.tensor([1.0, 2.0], requires_grad=True)
    (c * c + c).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), [3.0, 5.0])


def test_backward_twice_needs_retain_graph():
    x = plugrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_on_non_scalar_needs_a_gradient():
    x = plugrad.ones(2, 3, requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2, 3\)"):
        y.backward()
    y.backward(plugrad.ones(2, 3))
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2.0).backward(plugrad.ones(3))


def test_no_grad_enable_grad_and_detach():
    x = plugrad.tensor([1.0], requires_grad=True)
    with plugrad.no_grad():
        y = x * 2.0
        with plugrad.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    d = x.detach()
    assert not d.requires_grad
    d.numpy()[0] = 5.0  # detach shares memory, as in torch
    assert x.detach().item() == 5.0

    @plugrad.no_grad()
    def f(t):
        return t * 3.0

    assert not f(x).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_in_place_updates_of_leaves_only_under_no_grad():
    w = plugrad.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1 * w.grad
    with plugrad.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating"):
        plugrad.tensor([1, 2], requires_grad=True)


def test_grad_function_and_higher_order():
    x = plugrad.tensor(2.0, dtype=plugrad.float64, requires_grad=True)
    y = x**3
    (dy,) = plugrad.autograd.grad(y, x, create_graph=True)
    (d2y,) = plugrad.autograd.grad(dy, x, create_graph=True)
    (d3y,) = plugrad.autograd.grad(d2y, x)
    assert (dy.item(), d2y.item(), d3y.item()) == (12.0, 12.0, 6.0)
    assert x.grad is None  # grad() never touches .grad
    z = plugrad.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        plugrad.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = plugrad.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_backward_with_create_graph_gives_differentiable_grads():
    x = plugrad.tensor([1.0, 2.0], dtype=plugrad.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 2.0]))


class Cube(plugrad.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3.0 * x * x * ctx.scale, None


def test_custom_function():
    x = plugrad.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name == "Cube"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])
    with plugrad.no_grad():
        assert not Cube.apply(x, 1.0).requires_grad


def test_custom_function_with_wrong_gradient_count_raises():
    class Bad(plugrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    x = plugrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 2 gradients"):
        Bad.apply(x).sum().backward()


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = plugrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_retain_grad_and_leaf_flags():
    x = plugrad.tensor([1.0], requires_grad=True)
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf
    assert repr(y).endswith("grad_fn=<mul(2.0)>)")


def test_leaf_grads_never_alias_other_memory():
    # the caller's root gradient
    x = plugrad.tensor([1.0, 2.0], requires_grad=True)
    g = plugrad.tensor([1.0, 1.0])
    x.backward(g)
    x.grad.mul_(3.0)
    assert g.tolist() == [1.0, 1.0]
    # a broadcast gradient (sum's backward) becomes real memory before in-place updates
    w = plugrad.ones(2, 3, requires_grad=True)
    w.sum().backward()
    w.grad[0, 0] = 5.0
    assert w.grad.tolist() == [[5.0, 1.0, 1.0], [1.0, 1.0, 1.0]]

    # a custom Function that returns a tensor it was given
    class PassThrough(plugrad.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad

    a = plugrad.tensor([1.0, 2.0], requires_grad=True)
    b = plugrad.tensor([3.0, 4.0], requires_grad=True)
    (PassThrough.apply(a) + PassThrough.apply(b)).sum().backward()
    a.grad.mul_(7.0)
    assert b.grad.tolist() == [1.0, 1.0]


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = plugrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]


def test_tensors_pickle_by_value_onto_the_same_device(device):
    import pickle

    t = plugrad.tensor([[1.5, -2.0]], dtype=plugrad.float64, device=device, requires_grad=True)
    back = pickle.loads(pickle.dumps(t))
    assert back.device is t.device and back.dtype is t.dtype and back.requires_grad
    assert back.tolist() == [[1.5, -2.0]]
    with pytest.raises(RuntimeError, match="non-leaf"):
        pickle.dumps(t * 2)
