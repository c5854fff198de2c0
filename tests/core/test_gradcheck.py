"""plugrad.autograd.gradcheck and gradgradcheck: they pass on right gradients and name the
input and the Jacobian entry on wrong ones, in full and in fast mode."""

from __future__ import annotations

import pytest

import plugrad
from plugrad.autograd import GradcheckError, gradcheck, gradgradcheck


def inputs(device):
    plugrad.manual_seed(0)
    x = plugrad.randn(3, 2, dtype=plugrad.float64, device=device, requires_grad=True)
    w = plugrad.randn(2, 4, dtype=plugrad.float64, device=device, requires_grad=True)
    return x, w


class WrongSquare(plugrad.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a  # should be 2 * a


@pytest.mark.parametrize("fast_mode", [False, True])
def test_right_gradients_pass(device, fast_mode):
    x, w = inputs(device)
    assert gradcheck(lambda a, b: (a @ b).tanh(), (x, w), fast_mode=fast_mode)
    assert gradgradcheck(lambda a, b: (a @ b).tanh(), (x, w), fast_mode=fast_mode)


def test_several_outputs_and_inputs_without_grad(device):
    x, w = inputs(device)
    c = plugrad.ones(3, 2, dtype=plugrad.float64, device=device)  # not checked
    assert gradcheck(lambda a, b, k: ((a * k).sum(0), (a @ b).exp()), (x, w, c))


@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_gradients_raise_naming_the_input(device, fast_mode):
    x, _ = inputs(device)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3, 2\)\)"):
        gradcheck(WrongSquare.apply, (x,), fast_mode=fast_mode)
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_wrong_second_derivative_is_caught(device):
    class FirstOnly(plugrad.autograd.Function):  # backward is right but not differentiable
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 3 * (a * a).detach()

    x, _ = inputs(device)
    assert gradcheck(FirstOnly.apply, (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(FirstOnly.apply, (x,))


def test_nothing_to_check_is_an_error(device):
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda a: a * 2, (plugrad.ones(2, device=device),))
