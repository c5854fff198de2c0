"""Tensor hooks against torch: order, replacement of the gradient, removal, leaves and
non-leaves, post-accumulate hooks, and hooks registered before an in-place write."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def scenario(lib, device=None):
    """Hooks of every kind on one small graph; returns what they saw and the final grads."""
    kw = {"device": device} if lib is plugrad else {}
    f64 = lib.float64
    x = lib.tensor([1.0, -2.0, 3.0], dtype=f64, requires_grad=True, **kw)
    log = []
    y = x * 2
    h_y1 = y.register_hook(lambda g: log.append(("y1", g.detach().numpy().copy())))
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on from y
    y.register_hook(lambda g: log.append(("y3", g.detach().numpy().copy())))
    h_y1.remove()
    x.register_hook(lambda g: log.append(("x", g.detach().numpy().copy())) or g + 1)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.numpy().copy())))
    z = y * y
    z.retain_grad()
    z.register_hook(lambda g: g * 0.5)  # the retained .grad sees hooks' results (torch 2)
    z.sum().backward()
    log.append(("x.grad", x.grad.numpy().copy()))
    log.append(("z.grad", z.grad.numpy().copy()))
    return log


def test_tensor_hooks_match_torch(device):
    ours, theirs = scenario(plugrad, device), scenario(torch)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    for (k, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, err_msg=k)


def test_hook_before_in_place_write_sees_the_old_value_gradient(device):
    for lib in (plugrad, torch):
        kw = {"device": device} if lib is plugrad else {}
        x = lib.tensor([1.0, 2.0], requires_grad=True, **kw)
        y = x * 2
        seen = []
        y.register_hook(lambda g, seen=seen: seen.append(g.detach().numpy().copy()))
        y.mul_(3)
        (y * lib.tensor([1.0, 10.0], **kw)).sum().backward()
        if lib is plugrad:
            ours = (seen[0], x.grad.numpy())
        else:
            np.testing.assert_allclose(ours[0], seen[0])
            np.testing.assert_allclose(ours[1], x.grad.numpy())


def test_handles_work_as_context_managers(device):
    x = plugrad.tensor([1.0], requires_grad=True, device=device)
    with x.register_hook(lambda g: g * 3):
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert x.grad.item() == 4.0


def test_hook_registration_errors(device):
    t = plugrad.tensor([1.0], device=device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        t.register_hook(lambda g: g)
    x = plugrad.tensor([1.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    x.register_hook(lambda g: plugrad.zeros(3, device=device))
    with pytest.raises(RuntimeError, match=r"like the gradient: shape \(1,\)"):
        (x * 2).sum().backward()


@pytest.mark.parametrize(
    "replacement",
    [
        lambda g: g.double(),  # another dtype: torch refuses a hook that changes the type
        lambda g: g.long(),
        lambda g: g.to("hooks_other"),  # another device
        lambda g: [1.0],  # not a tensor
    ],
    ids=["float64", "int64", "device", "list"],
)
def test_a_hook_must_keep_the_gradients_dtype_and_device(make_device, replacement):
    make_device("hooks_other")
    x = plugrad.tensor([1.0], requires_grad=True, device="numpy_ref")

    def swap(g):
        return replacement(g)

    x.register_hook(swap)
    with pytest.raises(RuntimeError, match=r"hook 'swap' returned .*float32 on numpy_ref"):
        (x * 2).sum().backward()
    assert x.grad is None


def test_post_accumulate_hooks_fire_once_per_leaf_in_backward_order(device):
    a = plugrad.tensor([1.0], requires_grad=True, device=device)
    b = plugrad.tensor([2.0], requires_grad=True, device=device)
    order = []
    a.register_post_accumulate_grad_hook(lambda t: order.append(("a", t.grad.item())))
    b.register_post_accumulate_grad_hook(lambda t: order.append(("b", t.grad.item())))
    ((a * b) * a).sum().backward()
    assert sorted(order) == [("a", 4.0), ("b", 1.0)]
    assert len(order) == 2
