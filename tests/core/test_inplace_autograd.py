"""In-place writes in the graph against torch: every (target, write) pair gives torch's
gradients, or the same kind of error torch raises. Float64, every installed device.

A target is how the written tensor relates to the graph: a leaf that requires grad, an
intermediate, a view of an intermediate, a tensor an op saved for backward, and a tensor that
does not require grad receiving one that does. A write is an in-place method, an indexed
assignment (int, slice, mask, index tensor) or an augmented assignment.
"""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

X = np.array([[0.5, -1.0, 2.0, 1.5], [-0.3, 0.8, -2.5, 1.1], [1.2, -0.7, 0.4, -1.9]])
W = np.array([[1.5, 0.2, -0.6, 0.9], [0.3, -1.2, 0.7, 2.0], [-0.4, 1.1, 0.5, -0.8]])
COEF = np.arange(12.0).reshape(3, 4) / 7 - 0.5


class Lib:
    """The same calls on plugrad (on one device) or torch."""

    def __init__(self, mod, device=None) -> None:
        self.mod, self.device = mod, device

    def tensor(self, a, requires_grad=False):
        if self.mod is torch:
            return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)
        return plugrad.tensor(
            np.asarray(a), dtype=plugrad.float64, device=self.device, requires_grad=requires_grad
        )

    def index(self, values):
        if self.mod is torch:
            return torch.tensor(values)
        return plugrad.tensor(values, device=self.device)


# --- targets: (lib, x, w) -> (target, loss extras); the loss is (target * coef).sum() + extras
def leaf(L, x, w):
    return x, []


def intermediate(L, x, w):
    return x * 1.5, []


def view_of_intermediate(L, x, w):
    base = x * 1.5
    return base[1:, ::2], [base]  # the base's gradient path sees the write too


def saved_for_backward(L, x, w):
    t = x * 1.5
    return t, [t * t]  # mul saved t: writing t afterwards must be refused


def exp_output(L, x, w):
    t = x.exp()
    return t, []  # exp saved its output


def no_grad_target(L, x, w):
    return L.tensor(np.zeros((3, 4))), []


TARGETS = [leaf, intermediate, view_of_intermediate, saved_for_backward, exp_output, no_grad_target]


def _value(t, w):
    """A value of t's shape that depends on w."""
    return (w * 2.0 - 1.0)[: t.shape[0], : t.shape[1]] if t.shape != w.shape else w * 2.0 - 1.0


# --- writes: (L, t, w) -> None, writing into t
def add_(L, t, w):
    t.add_(_value(t, w), alpha=0.5)


def sub_(L, t, w):
    t.sub_(_value(t, w))


def mul_(L, t, w):
    t.mul_(_value(t, w))


def div_(L, t, w):
    t.div_(_value(t, w) * _value(t, w) + 1.0)


def pow_(L, t, w):
    t.pow_(2)


def clamp_(L, t, w):
    t.clamp_(-0.5, 1.0)


def relu_(L, t, w):
    t.relu_()


def sigmoid_(L, t, w):
    t.sigmoid_()


def copy_(L, t, w):
    t.copy_(_value(t, w))


def fill_(L, t, w):
    t.fill_(0.25)


def zero_(L, t, w):
    t.zero_()


def masked_fill_(L, t, w):
    t.masked_fill_(t > 0.3, -2.0)


def setitem_int(L, t, w):
    t[1] = _value(t, w)[0] * 3.0


def setitem_slice(L, t, w):
    t[:, 1:] = _value(t, w)[:, 1:] + 1.0


def setitem_mask(L, t, w):
    t[_value(t, w) > 0] = 7.0


def setitem_index_tensor(L, t, w):
    t[L.index([1, 0])] = _value(t, w)[:2] * 0.5


def setitem_scalar_broadcast(L, t, w):
    t[0, :] = _value(t, w)[0, 0]


def iadd(L, t, w):
    t += _value(t, w)


def isub(L, t, w):
    t -= _value(t, w) * 3.0


def imul(L, t, w):
    t *= _value(t, w)


def itruediv(L, t, w):
    t /= 2.0


WRITES = [add_, sub_, mul_, div_, pow_, clamp_, relu_, sigmoid_, copy_, fill_, zero_,
          masked_fill_, setitem_int, setitem_slice, setitem_mask, setitem_index_tensor,
          setitem_scalar_broadcast, iadd, isub, imul, itruediv]  # fmt: skip


def run(L, target, write):
    """The gradients of x and w (None if unused), or the class of the error raised."""
    x = L.tensor(X, requires_grad=True)
    w = L.tensor(W, requires_grad=True)
    try:
        t, extras = target(L, x, w)
        write(L, t, w)
        coef = L.tensor(COEF)
        loss = (t * coef[: t.shape[0], : t.shape[1]]).sum()
        for e in extras:
            loss = loss + (e * coef).sum()
        loss.backward()
    except RuntimeError:
        return RuntimeError
    return [None if g is None else np.asarray(g.detach().numpy()) for g in (x.grad, w.grad)]


@pytest.mark.parametrize("write", WRITES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("target", TARGETS, ids=lambda f: f.__name__)
def test_inplace_write_matches_torch(target, write, device):
    theirs = run(Lib(torch), target, write)
    ours = run(Lib(plugrad, device), target, write)
    if theirs is RuntimeError or ours is RuntimeError:
        assert ours is theirs, f"torch gave {theirs}, plugrad gave {ours}"
        return
    for name, a, b in zip(("x", "w"), ours, theirs):
        assert (a is None) == (b is None), f"{name}.grad: plugrad {a}, torch {b}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name}.grad")


# --- the cases from the issue, spelled out -------------------------------------------------
def test_accumulating_into_a_zero_tensor_keeps_the_graph(device):
    w = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    total = plugrad.zeros((), device=device)
    total += (w * 3).sum()
    (total + (w * 5).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, 8.0])


def test_assigning_a_graph_value_into_a_buffer_keeps_the_graph(device):
    w = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    buf = plugrad.zeros(2, device=device)
    buf[0] = (w * 3).sum()
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * plugrad.tensor([2.0, 1.0], device=device)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])


def test_residual_add_in_place(device):
    x = plugrad.tensor([[1.0, -2.0]], requires_grad=True, device=device)
    block = plugrad.nn.Linear(2, 2).to(device)
    h = block(x)
    h += x
    h.sum().backward()
    expected = block.weight.detach().numpy().sum(0) + 1.0
    np.testing.assert_allclose(x.grad.numpy()[0], expected, rtol=1e-6)


def test_micrograd_c_plus_equals_c_plus_one(device):
    a = plugrad.tensor(2.0, requires_grad=True, device=device)
    c = a * 1.0
    c += c + 1
    c.backward()
    assert a.grad.item() == 2.0


def test_relu_in_place_on_an_intermediate(device):
    x = plugrad.tensor([-1.0, 2.0], requires_grad=True, device=device)
    y = x * 2
    y.relu_()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0])


def test_filling_columns_in_a_loop(device):
    x = plugrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, device=device)
    out = plugrad.zeros(2, 3, device=device)
    for i in range(3):
        out[:, i] = (x * (i + 1)).sum(1)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 6.0))


# --- version counters --------------------------------------------------------------------
def test_version_counts_writes_and_is_shared_by_views(device):
    a = plugrad.zeros(3, device=device)
    assert a._version == 0
    a.add_(1)
    v = a[0:2]
    v.mul_(2)
    assert (a._version, v._version) == (2, 2)
    with plugrad.no_grad():
        a.add_(1)
    a[0] = 5.0
    assert a._version == 4
    assert a.detach()._version == 4  # detach shares the storage and its counter


def test_writing_a_saved_tensor_names_the_op_and_both_versions(device):
    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    w = plugrad.tensor([3.0, 4.0], requires_grad=True, device=device)
    y = x * w
    with plugrad.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match=r"gradient of mul .*version 0 then 1"):
        y.sum().backward()


def test_writing_a_tensor_nobody_saved_is_fine(device):
    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = x + 1.0  # add saves nothing
    with plugrad.no_grad():
        x.add_(10.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_in_place_on_a_leaf_says_how_to_fix_it(device):
    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf"):
        x[0:1].mul_(2)
    with plugrad.no_grad():
        x.add_(1)  # allowed, as optimizers do
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 3.0])


def test_stale_view_follows_its_base(device):
    x = plugrad.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = x * 1
    v = b[0:2]
    b.mul_(2)  # v was taken before: its values and its gradient path both change
    (v * v).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0, 0.0])


def test_view_made_under_no_grad_is_refused_when_written_with_grad(device):
    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    b = x * 1
    with plugrad.no_grad():
        v = b[0:1]
    with pytest.raises(RuntimeError, match="no_grad"):
        v.mul_(x[0:1])


def test_broadcast_view_is_refused_as_a_target(device):
    t = plugrad.zeros(1, device=device).expand(3)
    with pytest.raises(RuntimeError, match="clone"):
        t.add_(plugrad.ones(3, device=device))


def test_custom_function_saved_tensor_is_version_checked(device):
    class Square(plugrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 2 * a

    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    h = x * 1
    y = Square.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="custom Function was modified in place"):
        y.sum().backward()


def test_higher_order_through_an_in_place_write(device):
    x = plugrad.tensor([1.0, 2.0], dtype=plugrad.float64, requires_grad=True, device=device)
    y = x * 1
    y.mul_(x)  # y = x^2
    (g,) = plugrad.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [2.0, 4.0])
    (gg,) = plugrad.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), [2.0, 2.0])


def test_graph_drawing_after_an_in_place_write_terminates(device):
    x = plugrad.tensor([1.0, 2.0], requires_grad=True, device=device)
    c = x * 1
    c += c + 1
    dot = plugrad.viz.to_dot(c)
    assert dot.count("->") >= 4
