"""What a custom Function's backward returns is checked before it joins the graph, as torch
checks it: a floating gradient of another dtype is cast to the input's dtype; one on another
device, of an integer or bool dtype, of another shape, or not a tensor at all is refused with
a message naming the Function and the input, and no .grad is written."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def function_returning(make_grad):
    """A Function y = 2 * x whose backward returns make_grad(grad) for x."""

    class Doubler(plugrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return make_grad(grad), None

    return Doubler


@pytest.mark.parametrize(
    "source, target", [("float32", "float64"), ("float64", "float32")], ids=["up", "down"]
)
def test_a_floating_gradient_is_cast_to_the_inputs_dtype_as_in_torch(device, source, target):
    Doubler = function_returning(lambda g: (g * 1.5).astype(source))
    x = plugrad.tensor([1.0, -2.0, 3.0], dtype=target, device=device, requires_grad=True)
    y = Doubler.apply(x, 1.0) * 2.0  # the cast gradient flows on through the rest of the graph
    y.sum().backward()
    assert x.grad.dtype is plugrad.dtypes.as_dtype(target)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])

    class TorchDoubler(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return (grad * 1.5).to(getattr(torch, source))

    tx = torch.tensor([1.0, -2.0, 3.0], dtype=getattr(torch, target), requires_grad=True)
    (TorchDoubler.apply(tx) * 2.0).sum().backward()
    assert str(tx.grad.dtype) == f"torch.{target}"
    np.testing.assert_allclose(tx.grad.numpy(), x.grad.numpy())


@pytest.mark.parametrize(
    "make_grad, error, message",
    [
        (lambda g: g.to("function_other"), RuntimeError, r"a gradient on function_other; return"),
        (lambda g: g.long(), TypeError, r"a gradient of dtype int64; gradients are floating"),
        (lambda g: g.bool(), TypeError, r"a gradient of dtype bool"),
        (lambda g: g.sum(), RuntimeError, r"a gradient of shape \(\); it must match"),
        (lambda g: g.numpy().tolist(), TypeError, r"a list; return a Tensor or None"),
    ],
    ids=["device", "int64", "bool", "shape", "list"],
)
def test_a_gradient_that_cannot_be_the_inputs_is_refused(make_device, make_grad, error, message):
    make_device("function_other")
    Doubler = function_returning(make_grad)
    x = plugrad.tensor([1.0, 2.0], device="numpy_ref", requires_grad=True)
    names = r"Doubler\.backward returned for input 0 \(shape \(2,\), float32 on numpy_ref\) "
    with pytest.raises(error, match=names + message):
        Doubler.apply(x, 3.0).sum().backward()
    assert x.grad is None


def test_the_message_names_the_inputs_position_among_forwards_arguments():
    class Second(plugrad.autograd.Function):
        @staticmethod
        def forward(ctx, scale, x):
            return x * scale

        @staticmethod
        def backward(ctx, grad):
            return None, grad.long()

    x = plugrad.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"Second\.backward returned for input 1 "):
        Second.apply(2.0, x).sum().backward()
