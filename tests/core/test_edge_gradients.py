"""Gradients at the edges follow torch's conventions: NaNs in max/min, ties, 0 ** 0, pow's
exponent at a zero or negative base, maximum/minimum with a NaN, std of a constant row, and
zero gradients that stay zero under an infinite upstream gradient. Each case runs the same
function in float64 through plugrad (on every installed device) and torch and compares the
values and the gradients, NaNs included."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

NAN, INF = float("nan"), float("inf")


def _values(t) -> np.ndarray:
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def compare(device, fn, *inputs, upstream=None) -> None:
    """fn(lib, *tensors) in plugrad and in torch: same value, same gradient of every input.
    `upstream` is the gradient fed to backward (ones by default)."""
    ours = [
        plugrad.tensor(np.array(v, dtype=np.float64), device=device, requires_grad=True)
        for v in inputs
    ]
    theirs = [torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in inputs]
    out, tout = fn(plugrad, *ours), fn(torch, *theirs)
    if isinstance(tout, tuple):  # max/min with a dim: (values, indices)
        assert out[1].tolist() == tout[1].tolist()
        out, tout = out[0], tout[0]
    np.testing.assert_array_equal(_values(out), _values(tout))
    grad = np.ones(tout.shape) if upstream is None else np.broadcast_to(upstream, tout.shape)
    out.backward(plugrad.tensor(grad.copy(), device=device))
    tout.backward(torch.tensor(grad.copy()))
    for x, tx in zip(ours, theirs):
        assert (x.grad is None) == (tx.grad is None)
        if x.grad is not None:
            np.testing.assert_allclose(_values(x.grad), _values(tx.grad), rtol=1e-12, atol=0)


CASES = {
    # max() and min() without a dim: a NaN is the extreme and takes the gradient (ties share).
    "max-nan": (lambda m, x: x.max(), [1.0, NAN, 3.0]),
    "max-two-nans": (lambda m, x: x.max(), [NAN, 1.0, NAN]),
    "min-nan": (lambda m, x: x.min(), [[1.0, 2.0], [NAN, 0.0]]),
    "max-ties": (lambda m, x: x.max(), [3.0, 1.0, 3.0]),
    "min-ties": (lambda m, x: x.min(), [1.0, 1.0, 3.0]),
    "max-infinite-ties": (lambda m, x: x.max(), [1.0, INF, INF]),
    # with a dim: (values, indices), the gradient goes to the returned index only
    "max-dim-ties": (lambda m, x: x.max(1), [[3.0, 1.0, 3.0], [1.0, 2.0, 3.0]]),
    "max-dim-nan": (lambda m, x: x.max(1), [[3.0, NAN, 3.0, NAN], [1.0, 2.0, 3.0, 0.0]]),
    "min-dim-keepdim": (lambda m, x: x.min(0, keepdim=True), [[3.0, 1.0], [1.0, 1.0]]),
    "max-dim-0d": (lambda m, x: x.max(0), 2.0),
    # amax / amin: ties share; a NaN row's gradient is NaN everywhere (torch's amax)
    "amax-ties": (lambda m, x: x.amax(1), [[3.0, 1.0, 3.0], [1.0, 2.0, 3.0]]),
    "amax-nan-row": (lambda m, x: x.amax(1), [[1.0, NAN, 3.0], [1.0, 2.0, 3.0]]),
    "amin-nan": (lambda m, x: x.amin(), [1.0, NAN, 3.0]),
    # pow: x ** 0 has gradient 0 even at x = 0; torch's rules for the exponent's gradient
    "pow-scalar-0": (lambda m, x: x**0, [0.0, 1.0, -1.0]),
    "pow-scalar-0.0": (lambda m, x: x**0.0, [0.0, 1.0, -1.0]),
    "pow-tensor-0": (lambda m, x, y: x**y, [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]),
    "pow-tensor-edges": (
        lambda m, x, y: x**y,
        [0.0, 0.0, -1.0, -2.0, 2.0, 0.0],
        [2.0, -1.0, 2.0, 0.5, 0.5, 0.5],
    ),
    "pow-at-0": (lambda m, x: x**0.5 + x**1 + x**2 + x**-1, [0.0, 1.0]),
    "rpow-positive": (lambda m, x: 2.0**x, [0.0, 1.0, -1.5]),
    "rpow-zero-base": (lambda m, x: 0.0**x, [0.0, 1.0, -1.0]),
    "rpow-negative-base": (lambda m, x: (-2.0) ** x, [2.0, 1.0]),
    # maximum / minimum: a NaN on either side gives both the whole gradient; ties halve it
    "maximum-nan": (
        lambda m, x, y: m.maximum(x, y),
        [1.0, NAN, NAN, 2.0, 0.0],
        [NAN, 1.0, NAN, 2.0, 1.0],
    ),
    "minimum-nan": (
        lambda m, x, y: m.minimum(x, y),
        [1.0, NAN, NAN, 2.0, 0.0],
        [NAN, 1.0, NAN, 2.0, 1.0],
    ),
    "maximum-broadcast-ties": (lambda m, x, y: m.maximum(x, y), [[1.0, 2.0], [3.0, 1.0]], [1.0]),
    # clamp: a NaN passes through with gradient 0
    "clamp-nan": (lambda m, x: x.clamp(0.0, 1.0), [NAN, 0.0, 1.0, 2.0]),
    # std of a constant row is 0 with gradient 0 (not 0 * inf = NaN); one element is NaN
    "std-constant-row": (lambda m, x: x.std(1), [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]),
    "std-constant": (lambda m, x: x.std(), [2.0, 2.0, 2.0]),
    "std-constant-correction-0": (lambda m, x: x.std(correction=0), [5.0, 5.0]),
    "std-keepdim": (lambda m, x: x.std(0, keepdim=True), [[1.0, 4.0], [1.0, 6.0]]),
    "var-constant-row": (lambda m, x: x.var(1), [[2.0, 2.0, 2.0]]),
}


@pytest.mark.filterwarnings("ignore:std\\(\\)|var\\(\\)")  # torch warns on one element
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_gradient_at_the_edge_matches_torch(device, case):
    fn, *inputs = CASES[case]
    compare(device, fn, *inputs)


def test_maximum_with_a_number_is_maximum_with_a_0d_tensor(device):
    compare(
        device,
        lambda m, x: x.maximum(1.0) if m is plugrad else m.maximum(x, m.tensor(1.0, dtype=x.dtype)),
        [NAN, 1.0, 2.0, 0.0],
    )
    compare(
        device,
        lambda m, x: x.minimum(1.0) if m is plugrad else m.minimum(x, m.tensor(1.0, dtype=x.dtype)),
        [NAN, 1.0, 2.0, 0.0],
    )


@pytest.mark.parametrize("op", ["sign", "floor", "ceil"])
def test_a_zero_gradient_stays_zero_under_an_infinite_upstream(device, op):
    compare(device, lambda m, x: getattr(x, op)(), [0.5, -1.5], upstream=np.array([INF, NAN]))
    compare(device, lambda m, x: x**0, [0.5, 0.0], upstream=np.array([INF, -INF]))


def test_the_new_gradients_are_differentiable_again(device):
    """std and pow's gradients are built from differentiable ops (second order)."""
    rng = np.random.default_rng(0)

    def leaf(a):
        return plugrad.tensor(a, dtype=plugrad.float64, device=device, requires_grad=True)

    x = leaf(rng.standard_normal((3, 4)))
    assert plugrad.autograd.gradgradcheck(lambda t: t.std(1), (x,))
    base, exponent = leaf(rng.uniform(0.5, 2.0, 5)), leaf(rng.uniform(-1.0, 2.0, 5))
    assert plugrad.autograd.gradgradcheck(lambda a, b: a**b, (base, exponent))
    assert plugrad.autograd.gradgradcheck(lambda b: 3.0**b, (exponent,))
    assert plugrad.autograd.gradgradcheck(lambda a: a.maximum(exponent.detach()), (base,))
