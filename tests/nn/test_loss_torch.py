"""The losses of issue 12 against torch on identical inputs, on every installed device:
values and the gradients of every differentiable input (float64 within 1e-6, float32 within
1e-4), each reduction, and the inputs where torch's formulas switch or saturate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_nn_torch import assert_close, compare_loss, make, to_torch, tol

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

REDUCTIONS = ["mean", "sum", "none"]


def uniform(shape, device, dtype, low=0.0, high=1.0, seed=1):
    host = np.random.default_rng(seed).uniform(low, high, shape)
    return plugrad.tensor(host, dtype=dtype, device=device)


def signs(shape, device, dtype, seed=2):
    host = np.random.default_rng(seed).choice([-1.0, 1.0], shape)
    return plugrad.tensor(host, dtype=dtype, device=device)


def compare_all_grads(ours_fn, theirs_fn, inputs, device, dtype):
    """ours_fn(*inputs) against theirs_fn on copies; the gradients of every floating input."""
    xs = [x.detach().requires_grad_() for x in inputs]
    txs = [to_torch(x).requires_grad_() for x in inputs]
    out, tout = ours_fn(*xs), theirs_fn(*txs)
    assert_close(out, tout, dtype)
    upstream = make(out.shape, device, dtype, seed=5)
    (out * upstream).sum().backward()
    (tout * to_torch(upstream)).sum().backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_loss(device, dtype, reduction, weighted):
    weight = uniform((5, 3), device, dtype, 0.5, 2.0, seed=7) if weighted else None
    ours = nn.BCELoss(weight=weight, reduction=reduction)
    theirs = torch.nn.BCELoss(weight=None if weight is None else to_torch(weight),
                              reduction=reduction)  # fmt: skip
    probs = uniform((5, 3), device, dtype, 0.01, 0.99)
    targets = uniform((5, 3), device, dtype, seed=3)
    compare_all_grads(ours, theirs, [probs, targets], device, dtype)


def test_bce_saturated_probabilities_keep_torch_finite_values_and_gradients(device, dtype):
    """Exact 0 and 1 (a saturated sigmoid): logs floored at -100, gradients through
    max(x (1 - x), 1e-12), so nothing is inf or NaN where torch's isn't."""
    probs = plugrad.tensor([0.0, 0.0, 1.0, 1.0, 0.5, 1e-30], dtype=dtype, device=device)
    targets = plugrad.tensor([0.0, 1.0, 0.0, 1.0, 0.3, 1.0], dtype=dtype, device=device)
    x, tx = probs.detach().requires_grad_(), to_torch(probs).requires_grad_()
    out = F.binary_cross_entropy(x, targets, reduction="none")
    tout = torch.nn.functional.binary_cross_entropy(tx, to_torch(targets), reduction="none")
    assert_close(out, tout, dtype)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_bce_rejects_what_torch_rejects(device):
    x = plugrad.tensor([0.2, 1.5], device=device)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x, plugrad.zeros(2, device=device))
    with pytest.raises(ValueError, match="must equal input shape"):
        F.binary_cross_entropy(x.clamp(0, 1), plugrad.zeros(2, 1, device=device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 0.0])
def test_smooth_l1_loss(device, dtype, reduction, beta):
    compare_loss(nn.SmoothL1Loss(reduction, beta), torch.nn.SmoothL1Loss(reduction=reduction,
                 beta=beta), make((6, 4), device, dtype, scale=2.0),
                 make((6, 4), device, dtype, seed=1), device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.4, 2.5])
def test_huber_loss(device, dtype, reduction, delta):
    compare_loss(nn.HuberLoss(reduction, delta), torch.nn.HuberLoss(reduction, delta),
                 make((6, 4), device, dtype, scale=2.0), make((6, 4), device, dtype, seed=1),
                 device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_loss_with_weight(device, dtype, reduction):
    weight = uniform((5, 2), device, dtype, seed=9)
    compare_all_grads(
        lambda x, y: F.huber_loss(x, y, reduction, 0.7, weight),
        lambda x, y: torch.nn.functional.huber_loss(x, y, reduction, 0.7, to_torch(weight)),
        [make((5, 2), device, dtype, scale=2.0), make((5, 2), device, dtype, seed=1)],
        device, dtype,
    )  # fmt: skip


def test_regression_losses_at_the_switch(device, dtype):
    """|d| exactly at beta or delta, and d = 0: torch's side of each switch."""
    x = plugrad.tensor([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype=dtype, device=device)
    y = plugrad.zeros(6, dtype=dtype, device=device)
    tf, ty = torch.nn.functional, to_torch(y)
    compare_all_grads(lambda a: F.smooth_l1_loss(a, y, "none", 0.5),
                      lambda a: tf.smooth_l1_loss(a, ty, reduction="none", beta=0.5),
                      [x], device, dtype)  # fmt: skip
    compare_all_grads(lambda a: F.huber_loss(a, y, "none", 1.0),
                      lambda a: tf.huber_loss(a, ty, "none", 1.0), [x], device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss(device, dtype, reduction, log_target):
    logp = make((4, 5), device, dtype).log_softmax(1)
    target = make((4, 5), device, dtype, seed=1).softmax(1)
    target = target.log() if log_target else target
    ours = nn.KLDivLoss(reduction, log_target)
    theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare_all_grads(ours, theirs, [logp, target], device, dtype)
    ours_warned = [w for w in caught if str(w.message).startswith("kl_div")]
    assert len(ours_warned) == (reduction == "mean")


def test_kl_div_zero_target_probabilities(device, dtype):
    """0 log 0 counts 0, as torch's xlogy. Torch's gradient with respect to such a target is
    NaN (log 0 + 0/0); plugrad's is that of the -target * input term alone, finite."""
    logp = make((3, 4), device, dtype).log_softmax(1)
    probs = make((3, 4), device, dtype, seed=1).softmax(1)
    target = plugrad.where(probs < 0.2, 0.0, probs)
    x, t = logp.detach().requires_grad_(), target.detach().requires_grad_()
    tx, tt = to_torch(logp).requires_grad_(), to_torch(target).requires_grad_()
    out = F.kl_div(x, t, reduction="sum")
    tout = torch.nn.functional.kl_div(tx, tt, reduction="sum")
    assert_close(out, tout, dtype)
    out.backward()
    tout.backward()
    assert_close(x.grad, tx.grad, dtype)
    zero = target.numpy() == 0
    assert zero.any() and np.isnan(tt.grad.numpy()[zero]).all()
    np.testing.assert_allclose(t.grad.numpy()[zero], -logp.numpy()[zero], rtol=1e-6)
    np.testing.assert_allclose(t.grad.numpy()[~zero], tt.grad.numpy()[~zero], rtol=tol(dtype),
                               atol=tol(dtype))  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_loss(device, dtype, reduction, margin):
    ours = nn.CosineEmbeddingLoss(margin, reduction)
    theirs = torch.nn.CosineEmbeddingLoss(margin, reduction=reduction)
    x1, x2 = make((6, 4), device, dtype), make((6, 4), device, dtype, seed=1)
    target = signs((6,), device, dtype)
    compare_all_grads(lambda a, b: ours(a, b, target), lambda a, b: theirs(a, b, to_torch(target)),
                      [x1, x2], device, dtype)  # fmt: skip
    unbatched = [make((4,), device, dtype, seed=3), make((4,), device, dtype, seed=4)]
    for label in (1.0, -1.0):
        t = plugrad.tensor(label, dtype=dtype, device=device)
        compare_all_grads(lambda a, b, t=t: ours(a, b, t),
                          lambda a, b, t=t: theirs(a, b, to_torch(t)),
                          unbatched, device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss(device, dtype, reduction, margin):
    ours = nn.MarginRankingLoss(margin, reduction)
    theirs = torch.nn.MarginRankingLoss(margin, reduction=reduction)
    target = signs((8,), device, dtype)
    compare_all_grads(lambda a, b: ours(a, b, target), lambda a, b: theirs(a, b, to_torch(target)),
                      [make((8,), device, dtype), make((8,), device, dtype, seed=1)],
                      device, dtype)  # fmt: skip


def test_loss_errors(device):
    x = make((3, 4), device, plugrad.float32)
    with pytest.raises(ValueError, match="negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="non-positive values for delta"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.KLDivLoss("batchsum")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.HuberLoss("batchmean")
    with pytest.raises(ValueError, match="need a target of shape"):
        F.cosine_embedding_loss(x, x, plugrad.ones(4, device=device))
    with pytest.raises(ValueError, match="same number of dimensions"):
        F.margin_ranking_loss(x, x, plugrad.ones(3, device=device))
    with pytest.warns(UserWarning, match="broadcast"):
        F.huber_loss(x, x[0])
