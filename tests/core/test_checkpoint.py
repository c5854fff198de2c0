"""plugrad.utils.checkpoint: rematerialization, as torch.utils.checkpoint."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
from plugrad.utils.checkpoint import checkpoint, checkpoint_sequential

HOSTS = ["numpy_ref", "c_cpu"]


@pytest.fixture(params=HOSTS)
def device(request):
    try:
        return plugrad.device(request.param)
    except ValueError:
        pytest.skip(f"{request.param} is not installed")


def _mlp(blocks: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers)


def _grads(params) -> list[np.ndarray]:
    return [p.grad.numpy().copy() for p in params]


def test_checkpoint_sequential_same_gradients_and_at_most_40_percent_of_the_peak(device):
    """16 Linear(256, 256)+ReLU blocks in 4 segments. The batch (2048) makes the activations
    outweigh the parameters' gradients, which both runs allocate alike."""
    plugrad.manual_seed(0)
    with plugrad.device(device):
        model = _mlp(16, 256)
        x = plugrad.randn(2048, 256)

        def run(checkpointed: bool) -> tuple[int, list[np.ndarray]]:
            model.zero_grad()
            gc.collect()
            start = plugrad.memory_allocated()
            plugrad.reset_peak_memory_stats()
            y = checkpoint_sequential(model, 4, x) if checkpointed else model(x)
            loss = y.sum()
            del y
            loss.backward()
            del loss
            return plugrad.max_memory_allocated() - start, _grads(model.parameters())

        plain_peak, plain = run(False)
        checkpointed_peak, grads = run(True)
    for a, b in zip(plain, grads):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    activations = 16 * 2 * 2048 * 256 * 4  # what the plain run keeps for backward
    assert plain_peak > activations
    assert checkpointed_peak <= 0.40 * plain_peak, (checkpointed_peak, plain_peak)


def test_dropout_draws_the_same_mask_in_the_recomputation(device):
    with plugrad.device(device):
        plugrad.manual_seed(1)
        block = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Tanh(), nn.Linear(16, 4))
        x = plugrad.randn(5, 8, requires_grad=True)

        def run(checkpointed: bool):
            block.zero_grad()
            x.grad = None
            plugrad.manual_seed(7)
            y = checkpoint(block, x) if checkpointed else block(x)
            after_forward = plugrad.rand(3).numpy().copy()
            (y * y).sum().backward()
            after_backward = plugrad.rand(3).numpy().copy()
            return (
                y.detach().numpy().copy(),
                x.grad.numpy().copy(),
                _grads(block.parameters()),
                (
                    after_forward,
                    after_backward,
                ),
            )

        y0, gx0, gp0, draws0 = run(False)
        y1, gx1, gp1, draws1 = run(True)
    np.testing.assert_array_equal(y1, y0)
    np.testing.assert_allclose(gx1, gx0, rtol=1e-6, atol=1e-7)
    for a, b in zip(gp0, gp1):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    # The recomputation puts the stream back: later draws are the plain run's.
    np.testing.assert_array_equal(draws1[0], draws0[0])
    np.testing.assert_array_equal(draws1[1], draws0[1])


def test_kwargs_and_several_outputs(device):
    with plugrad.device(device):
        plugrad.manual_seed(2)
        x = plugrad.randn(4, 3, requires_grad=True)
        w = plugrad.randn(3, 5, requires_grad=True)
        b = plugrad.randn(5, requires_grad=True)

        def f(x, w, *, scale, bias=None):
            h = (x @ w * scale).tanh()
            return h + bias, (h * h).sum(dim=1), "label", (x > 0)

        def run(checkpointed: bool):
            for t in (x, w, b):
                t.grad = None
            if checkpointed:
                out = checkpoint(f, x, w, scale=2.0, bias=b, use_reentrant=False)
            else:
                out = f(x, w, scale=2.0, bias=b)
            first, second, label, mask = out
            assert isinstance(out, tuple) and label == "label" and not mask.requires_grad
            assert first.requires_grad and second.requires_grad
            (first.sum() * 3 + (second * second).sum()).backward()
            return [t.grad.numpy().copy() for t in (x, w, b)], first.detach().numpy().copy()

        plain, y0 = run(False)
        grads, y1 = run(True)
    np.testing.assert_array_equal(y1, y0)
    for a, b_ in zip(plain, grads):
        np.testing.assert_allclose(b_, a, rtol=1e-5, atol=1e-6)


def test_only_some_outputs_used_and_an_input_given_twice():
    x = plugrad.randn(3, 2, device="numpy_ref", requires_grad=True)
    first, second = checkpoint(lambda a, c: (a * c, (a + c).exp()), x, x)
    first.sum().backward()  # `second` gets no gradient
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)


def test_use_reentrant_true_behaves_the_same():
    plugrad.manual_seed(3)
    model = _mlp(4, 6).to("numpy_ref")
    x = plugrad.randn(2, 6, device="numpy_ref", requires_grad=True)
    model(x).sum().backward()
    plain = _grads(model.parameters()) + [x.grad.numpy().copy()]
    model.zero_grad()
    x.grad = None
    checkpoint_sequential(model, 2, x, use_reentrant=True).sum().backward()
    for a, b in zip(plain, _grads(model.parameters()) + [x.grad.numpy().copy()]):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="use_reentrant"):
        checkpoint(model, x, use_reentrant="yes")


def test_module_parameters_get_gradients_when_the_input_needs_none():
    model = nn.Linear(3, 2).to("numpy_ref")
    x = plugrad.randn(4, 3, device="numpy_ref")  # requires no grad
    out = checkpoint(model, x)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(model.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)), 1e-5)


def test_a_closure_without_grad_inputs_warns_and_no_grad_runs_plainly():
    w = plugrad.randn(3, device="numpy_ref", requires_grad=True)
    x = plugrad.randn(3, device="numpy_ref")
    with pytest.warns(UserWarning, match="pass the tensors it closes over as arguments"):
        out = checkpoint(lambda t: t * w, x)
    assert not out.requires_grad
    with plugrad.no_grad():
        assert not checkpoint(lambda t: t * w, x).requires_grad


def test_autograd_grad_through_a_checkpoint_is_refused():
    x = plugrad.randn(3, device="numpy_ref", requires_grad=True)
    y = checkpoint(lambda t: (t * t).sum(), x)
    with pytest.raises(RuntimeError, match="autograd.grad cannot go through"):
        plugrad.autograd.grad(y, [x])


def test_an_input_written_in_place_after_the_forward_is_refused():
    x = plugrad.randn(3, device="numpy_ref", requires_grad=True)
    h = x * 1.0
    y = checkpoint(lambda t: t.exp(), h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_higher_order_through_a_checkpoint_is_refused():
    x = plugrad.tensor([0.5, -1.0, 2.0], device="numpy_ref", requires_grad=True)
    y = checkpoint(lambda t: (t**3).sum(), x)
    with pytest.raises(RuntimeError, match="does not support higher-order gradients"):
        y.backward(create_graph=True)


def test_checkpoint_sequential_checks_segments():
    model = _mlp(2, 3).to("numpy_ref")
    x = plugrad.randn(1, 3, device="numpy_ref")
    with pytest.raises(ValueError, match="segments must be a positive integer"):
        checkpoint_sequential(model, 0, x)
    with pytest.raises(ValueError, match="at most one segment per function"):
        checkpoint_sequential(model, 5, x)
    out = checkpoint_sequential(list(model), 4, x)  # a list works as well as a Sequential
    np.testing.assert_allclose(out.detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
