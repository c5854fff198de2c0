"""Every layer and loss of plugrad.nn against torch on identical weights and inputs, on every
installed device: outputs and gradients, float64 within 1e-6 and float32 within 1e-4 (the
`dtype` fixture is in conftest.py). The helpers here serve the other *_torch.py files too."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def tol(dtype) -> float:
    return 1e-6 if dtype is plugrad.float64 else 1e-4


def to_torch(t: plugrad.Tensor):
    return torch.from_numpy(np.array(t.detach().numpy(), copy=True))


def assert_close(ours, theirs, dtype) -> None:
    a = np.asarray(ours.detach().numpy(), dtype=np.float64)
    b = theirs.detach().to(torch.float64).numpy()
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol(dtype), atol=tol(dtype))


def make(shape, device, dtype, seed=0, scale=1.0):
    host = np.random.default_rng(seed).standard_normal(shape) * scale
    return plugrad.tensor(host, dtype=dtype, device=device)


def compare_module(ours: nn.Module, theirs, inputs, device, dtype, seed: int = 1) -> None:
    """Same weights in both; forward; backward of a random projection; compare everything."""
    theirs = theirs.to(torch.float64 if dtype is plugrad.float64 else torch.float32)
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    theirs.train(ours.training)
    xs = [
        x.detach().requires_grad_(x.dtype.is_floating) if x.dtype.is_floating else x for x in inputs
    ]
    txs = [to_torch(x).requires_grad_(x.dtype.is_floating) for x in inputs]
    out = ours(*xs)
    tout = theirs(*txs)
    assert_close(out, tout, dtype)
    upstream = make(out.shape, device, dtype, seed=seed)
    (out * upstream).sum().backward()
    (tout * to_torch(upstream)).sum().backward()
    for x, tx in zip(xs, txs):
        if x.requires_grad:
            assert_close(x.grad, tx.grad, dtype)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, dtype)
    theirs_state = theirs.state_dict()
    for name, b in ours.named_buffers():
        if b.dtype.is_floating:
            assert_close(b, theirs_state[name], dtype)
        else:
            assert b.tolist() == theirs_state[name].tolist()


# --- layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_linear(device, dtype, bias, shape):
    plugrad.manual_seed(0)
    ours = nn.Linear(4, 3, bias=bias, device=device, dtype=dtype)
    compare_module(
        ours, torch.nn.Linear(4, 3, bias=bias), [make(shape, device, dtype)], device, dtype
    )


def test_linear_default_init_bounds_match_torch(device):
    plugrad.manual_seed(0)
    layer = nn.Linear(50, 40, device=device)
    bound = 1 / np.sqrt(50)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    assert w.std() == pytest.approx(torch.nn.Linear(50, 40).weight.detach().std().item(), rel=0.1)


@pytest.mark.parametrize(
    "make_pair",
    [
        lambda: (nn.ReLU(), torch.nn.ReLU()),
        lambda: (nn.Tanh(), torch.nn.Tanh()),
        lambda: (nn.Sigmoid(), torch.nn.Sigmoid()),
        lambda: (nn.GELU(), torch.nn.GELU()),
        lambda: (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        lambda: (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        lambda: (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
        lambda: (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
        lambda: (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
        lambda: (nn.Identity(), torch.nn.Identity()),
        lambda: (nn.Flatten(), torch.nn.Flatten()),
        lambda: (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    ],
    ids=[
        "relu",
        "tanh",
        "sigmoid",
        "gelu",
        "gelu_tanh",
        "softmax1",
        "softmax-1",
        "logsoftmax1",
        "logsoftmax0",
        "identity",
        "flatten",
        "flatten01",
    ],  # fmt: skip
)
def test_stateless_layers(device, dtype, make_pair):
    ours, theirs = make_pair()
    compare_module(ours, theirs, [make((3, 4, 5), device, dtype, scale=3.0)], device, dtype)


def test_sequential_and_residual(device, dtype):
    plugrad.manual_seed(1)
    ours = nn.Sequential(
        nn.Linear(6, 8), nn.GELU(), nn.Residual(nn.Sequential(nn.Linear(8, 8), nn.Tanh())),
        nn.LayerNorm(8), nn.Linear(8, 3),
    ).to(device, dtype)  # fmt: skip

    class TorchResidual(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return x + self.fn(x)

    theirs = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.GELU(),
        TorchResidual(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())),
        torch.nn.LayerNorm(8), torch.nn.Linear(8, 3),
    )  # fmt: skip
    compare_module(ours, theirs, [make((5, 6), device, dtype)], device, dtype)


def test_dropout_matches_torch_formula_given_the_mask(device, dtype):
    plugrad.manual_seed(3)
    layer = nn.Dropout(0.3)
    x = make((40, 50), device, dtype).requires_grad_()
    out = layer(x)
    out.sum().backward()
    kept = out.detach().numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    mask = torch.from_numpy(kept.astype(np.float64))
    tx = to_torch(x).requires_grad_()
    expected = tx * mask / 0.7
    expected.sum().backward()
    assert_close(out, expected, dtype)
    assert_close(x.grad, tx.grad, dtype)
    layer.eval()
    assert layer(x) is x
    torch_eval = torch.nn.Dropout(0.3).eval()
    assert_close(layer(x), torch_eval(to_torch(x)), dtype)


@pytest.mark.parametrize("shape", [(8, 5), (6, 5, 4)])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm1d_training_then_eval(device, dtype, shape, momentum, affine):
    plugrad.manual_seed(0)
    ours = nn.BatchNorm1d(5, momentum=momentum, affine=affine, device=device, dtype=dtype)
    theirs = torch.nn.BatchNorm1d(5, momentum=momentum, affine=affine)
    if affine:
        with plugrad.no_grad():
            ours.weight.copy_(make((5,), device, dtype, seed=7))
            ours.bias.copy_(make((5,), device, dtype, seed=8))
    theirs = theirs.to(torch.float64 if dtype is plugrad.float64 else torch.float32)
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    for step in range(3):  # running statistics accumulate over several batches
        x = make(shape, device, dtype, seed=10 + step, scale=2.0) + 1.0
        out, tout = ours(x), theirs(to_torch(x))
        assert_close(out, tout, dtype)
    assert_close(ours.running_mean, theirs.running_mean, dtype)
    assert_close(ours.running_var, theirs.running_var, dtype)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 3
    ours.eval()
    theirs.eval()
    compare_module(ours, theirs, [make(shape, device, dtype, seed=20)], device, dtype)
    ours.train()
    theirs.train()
    compare_module(ours, theirs, [make(shape, device, dtype, seed=21)], device, dtype)


def test_batchnorm1d_without_running_stats(device, dtype):
    ours = nn.BatchNorm1d(4, track_running_stats=False, device=device, dtype=dtype).eval()
    theirs = torch.nn.BatchNorm1d(4, track_running_stats=False)
    compare_module(ours, theirs, [make((6, 4), device, dtype)], device, dtype)


@pytest.mark.parametrize("normalized", [(6,), (4, 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(device, dtype, normalized, affine):
    ours = nn.LayerNorm(normalized, elementwise_affine=affine, device=device, dtype=dtype)
    if affine:
        with plugrad.no_grad():
            ours.weight.copy_(make(normalized, device, dtype, seed=3))
            ours.bias.copy_(make(normalized, device, dtype, seed=4))
    theirs = torch.nn.LayerNorm(normalized, elementwise_affine=affine)
    compare_module(ours, theirs, [make((3, 4, 6), device, dtype, scale=5.0)], device, dtype)


# --- losses ------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]


def compare_loss(ours, theirs, logits, target, device, dtype):
    x = logits.detach().requires_grad_()
    tx = to_torch(logits).requires_grad_()
    target_t = to_torch(target)
    out, tout = ours(x, target), theirs(tx, target_t)
    assert_close(out, tout, dtype)
    upstream = make(out.shape, device, dtype, seed=5)
    (out * upstream).sum().backward()
    (tout * to_torch(upstream)).sum().backward()
    assert_close(x.grad, tx.grad, dtype)


def class_targets(shape, classes, device, seed=0, ignore=None):
    host = np.random.default_rng(seed).integers(0, classes, size=shape)
    if ignore is not None:
        host.reshape(-1)[::3] = ignore
    return plugrad.tensor(host, dtype=plugrad.int64, device=device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy(device, dtype, reduction, smoothing, weighted, ignore):
    weight = make((5,), device, dtype, seed=9).abs() + 0.1 if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore:
        kwargs["ignore_index"] = 2
    ours = nn.CrossEntropyLoss(weight=weight, **kwargs)
    theirs = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else to_torch(weight), **kwargs
    )
    logits = make((7, 5), device, dtype, scale=3.0)
    target = class_targets((7,), 5, device, ignore=2 if ignore else None)
    compare_loss(ours, theirs, logits, target, device, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_spatial_and_unbatched(device, dtype, reduction, smoothing):
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    ours, theirs = nn.CrossEntropyLoss(**kwargs), torch.nn.CrossEntropyLoss(**kwargs)
    logits, target = make((3, 4, 2, 5), device, dtype), class_targets((3, 2, 5), 4, device)
    compare_loss(ours, theirs, logits, target, device, dtype)
    compare_loss(
        ours, theirs, make((6,), device, dtype), class_targets((), 6, device), device, dtype
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets(device, dtype, reduction, smoothing):
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    probs = make((6, 4), device, dtype, seed=3).softmax(1)
    compare_loss(nn.CrossEntropyLoss(**kwargs), torch.nn.CrossEntropyLoss(**kwargs),
                 make((6, 4), device, dtype), probs, device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_nll_loss(device, dtype, reduction, weighted, ignore):
    weight = make((4,), device, dtype, seed=2).abs() + 0.1 if weighted else None
    kwargs = dict(reduction=reduction, ignore_index=1 if ignore else -100)
    ours = nn.NLLLoss(weight=weight, **kwargs)
    theirs = torch.nn.NLLLoss(weight=None if weight is None else to_torch(weight), **kwargs)
    logp = make((9, 4), device, dtype).log_softmax(1)
    compare_loss(ours, theirs, logp, class_targets((9,), 4, device, ignore=1 if ignore else None),
                 device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pair", ["mse", "l1"])
def test_regression_losses(device, dtype, reduction, pair):
    ours = (nn.MSELoss if pair == "mse" else nn.L1Loss)(reduction=reduction)
    theirs = (torch.nn.MSELoss if pair == "mse" else torch.nn.L1Loss)(reduction=reduction)
    compare_loss(ours, theirs, make((4, 3), device, dtype), make((4, 3), device, dtype, seed=1),
                 device, dtype)  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(device, dtype, reduction, weighted, pos_weighted):
    weight = make((5, 3), device, dtype, seed=4).abs() if weighted else None
    pos_weight = make((3,), device, dtype, seed=6).abs() + 0.5 if pos_weighted else None
    ours = nn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    theirs = torch.nn.BCEWithLogitsLoss(
        weight=None if weight is None else to_torch(weight), reduction=reduction,
        pos_weight=None if pos_weight is None else to_torch(pos_weight),
    )  # fmt: skip
    target = plugrad.tensor(
        np.random.default_rng(1).uniform(size=(5, 3)), dtype=dtype, device=device
    )
    compare_loss(ours, theirs, make((5, 3), device, dtype, scale=20.0), target, device, dtype)


# --- functional --------------------------------------------------------------------------
def test_functional_matches_torch_functional(device, dtype):
    tf = torch.nn.functional
    x = make((4, 6), device, dtype)
    w, b = make((3, 6), device, dtype, seed=1), make((3,), device, dtype, seed=2)
    y = class_targets((4,), 3, device)
    tx, tw, tb, ty = map(to_torch, (x, w, b, y))
    assert_close(F.linear(x, w, b), tf.linear(tx, tw, tb), dtype)
    assert_close(F.relu(x), tf.relu(tx), dtype)
    assert_close(F.gelu(x, "tanh"), tf.gelu(tx, approximate="tanh"), dtype)
    assert_close(F.softmax(x, 0), tf.softmax(tx, 0), dtype)
    assert_close(F.log_softmax(x, 1), tf.log_softmax(tx, 1), dtype)
    assert_close(F.layer_norm(x, (6,)), tf.layer_norm(tx, (6,)), dtype)
    logits = F.linear(x, w, b)
    assert_close(
        F.cross_entropy(logits, y, label_smoothing=0.1),
        tf.cross_entropy(tf.linear(tx, tw, tb), ty, label_smoothing=0.1),
        dtype,
    )
    assert_close(F.mse_loss(x, x * 0.5), tf.mse_loss(tx, tx * 0.5), dtype)
    rm, rv = (
        plugrad.zeros(6, dtype=dtype, device=device),
        plugrad.ones(6, dtype=dtype, device=device),
    )
    trm, trv = to_torch(rm), to_torch(rv)
    assert_close(
        F.batch_norm(x, rm, rv, training=True), tf.batch_norm(tx, trm, trv, training=True), dtype
    )
    assert_close(rv, trv, dtype)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3),
        dict(kernel_size=(3, 2), stride=2, padding=1, bias=False),
        dict(kernel_size=3, padding=2, dilation=2, groups=2),
        dict(kernel_size=(2, 3), padding="same", dilation=(3, 1)),
        dict(kernel_size=3, padding="valid", stride=2),
    ],
    ids=["plain", "strided", "dilated-groups", "same-even-kernel", "valid"],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note
def test_conv2d(device, dtype, kwargs):
    plugrad.manual_seed(0)
    ours = nn.Conv2d(4, 6, device=device, dtype=dtype, **kwargs)
    theirs = torch.nn.Conv2d(4, 6, **kwargs)
    compare_module(ours, theirs, [make((2, 4, 7, 6), device, dtype)], device, dtype)


def test_conv2d_default_init_bounds_and_repr(device):
    plugrad.manual_seed(0)
    layer = nn.Conv2d(8, 4, 3, padding=1, device=device)
    bound = 1 / np.sqrt(8 * 9)
    assert np.abs(layer.weight.detach().numpy()).max() <= bound
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    assert repr(layer) == "Conv2d(8, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    same = nn.Conv2d(8, 4, 2, padding="same", device=device)
    assert repr(same) == repr(torch.nn.Conv2d(8, 4, 2, padding="same"))
    with pytest.raises(ValueError, match="divide by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
