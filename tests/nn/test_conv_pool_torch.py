"""The convolution family of issue 13 against torch on identical weights and inputs, float64,
on every installed device: outputs, input gradients and parameter gradients over a covering
subset of each layer's options (stride, padding incl. 'same', dilation, groups incl.
depthwise, non-square inputs and kernels, ceil_mode, count_include_pad, ...)."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_torch import assert_close, compare_module, make, to_torch

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip("torch", reason="torch is the test-only oracle")
tf = torch.nn.functional
F64 = plugrad.float64


def compare_fn(ours, theirs, inputs, device, seed=3):
    """ours(*xs) against theirs(*txs): outputs (every one of a tuple) and input gradients."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    txs = [to_torch(x).requires_grad_(True) for x in inputs]
    out, tout = ours(*xs), theirs(*txs)
    if isinstance(tout, tuple):
        assert out[1].tolist() == tout[1].tolist()
        out, tout = out[0], tout[0]
    assert_close(out, tout, F64)
    upstream = make(out.shape, device, F64, seed=seed)
    (out * upstream).sum().backward()
    (tout * to_torch(upstream)).sum().backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad, F64)


CONV2D = [
    dict(kernel_size=(3, 2), stride=1, padding=0, dilation=1, groups=1),
    dict(kernel_size=(2, 3), stride=2, padding=1, dilation=2, groups=2),
    dict(kernel_size=3, stride=(2, 1), padding=2, dilation=(1, 2), groups=4),  # depthwise
    dict(kernel_size=(3, 2), stride=1, padding="same", dilation=2, groups=2),
    dict(kernel_size=1, stride=2, padding=(0, 2), dilation=1, groups=1),
]


@pytest.mark.parametrize("kwargs", CONV2D, ids=range(len(CONV2D)))
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv2d_factorial(device, kwargs):
    plugrad.manual_seed(0)
    ours = nn.Conv2d(4, 8, device=device, dtype=F64, **kwargs)
    compare_module(
        ours, torch.nn.Conv2d(4, 8, **kwargs), [make((2, 4, 7, 6), device, F64)], device, F64
    )


CONV1D = [
    dict(kernel_size=3, stride=1, padding=0, dilation=1, groups=1),
    dict(kernel_size=2, stride=2, padding=2, dilation=2, groups=2),
    dict(kernel_size=3, padding="same", dilation=2, groups=4),
    dict(kernel_size=4, padding="same", bias=False),
]


@pytest.mark.parametrize("kwargs", CONV1D, ids=range(len(CONV1D)))
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv1d(device, kwargs):
    plugrad.manual_seed(0)
    ours = nn.Conv1d(4, 8, device=device, dtype=F64, **kwargs)
    compare_module(
        ours, torch.nn.Conv1d(4, 8, **kwargs), [make((2, 4, 9), device, F64)], device, F64
    )


CONVT = [
    dict(kernel_size=(3, 2), stride=1, padding=0),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1, groups=2),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 2), dilation=2, groups=4, bias=False),
]


@pytest.mark.parametrize("kwargs", CONVT, ids=range(len(CONVT)))
def test_conv_transpose2d(device, kwargs):
    plugrad.manual_seed(0)
    ours = nn.ConvTranspose2d(4, 8, device=device, dtype=F64, **kwargs)
    theirs = torch.nn.ConvTranspose2d(4, 8, **kwargs)
    compare_module(ours, theirs, [make((2, 4, 5, 4), device, F64)], device, F64)


MAXPOOL = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2), stride=1, padding=1, dilation=1),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", MAXPOOL, ids=range(len(MAXPOOL)))
def test_max_pool2d(device, kwargs):
    x = make((2, 3, 7, 8), device, F64)
    compare_fn(lambda t: F.max_pool2d(t, return_indices=True, **kwargs),
               lambda t: tf.max_pool2d(t, return_indices=True, **kwargs), [x], device)  # fmt: skip
    compare_module(nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), [x], device, F64)


MAXPOOL_ONE_NODE = [
    dict(kernel_size=2),  # the demo's: non-overlapping, one strided write back
    dict(kernel_size=(2, 3), stride=(3, 4)),  # stride beyond the kernel; rows left over
    dict(kernel_size=2, stride=1),  # overlapping windows: one add per kernel offset
    dict(kernel_size=2, stride=2, dilation=2),  # dilated windows interleave
    dict(kernel_size=3, stride=3, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 2, 6, 6)])
@pytest.mark.parametrize("kwargs", MAXPOOL_ONE_NODE, ids=range(len(MAXPOOL_ONE_NODE)))
def test_max_pool2d_one_node(device, kwargs, shape):
    """max_pool2d without indices (plugrad.ops.pooling): values and input gradients against
    torch, random data and data with many ties (rounded to halves, as after ReLU)."""
    x = make(shape, device, F64)
    ties = plugrad.tensor(np.round(x.numpy() * 2).clip(0, None) / 2, dtype=F64, device=device)
    for data in (x, ties):
        compare_fn(lambda t: F.max_pool2d(t, **kwargs), lambda t: tf.max_pool2d(t, **kwargs),
                   [data], device)  # fmt: skip
        compare_module(nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), [data], device, F64)


def test_max_pool2d_one_node_nan_and_second_derivatives(device):
    """A NaN wins its window (and takes the gradient), as in torch; the gradient's own
    gradient (create_graph) matches torch's."""
    host = np.arange(32.0).reshape(1, 2, 4, 4) % 5
    host[0, 0, 1, 1] = np.nan
    x = plugrad.tensor(host, dtype=F64, device=device)
    compare_fn(lambda t: F.max_pool2d(t, 2), lambda t: tf.max_pool2d(t, 2), [x], device)
    y = make((2, 3, 6, 5), device, F64).requires_grad_(True)
    ty = to_torch(y.detach()).requires_grad_(True)
    up = make((2, 3, 5, 4), device, F64, seed=4).requires_grad_(True)
    tup = to_torch(up.detach()).requires_grad_(True)
    (g,) = plugrad.autograd.grad((F.max_pool2d(y, 2, 1) * up).sum(), [y], create_graph=True)
    (tg,) = torch.autograd.grad((tf.max_pool2d(ty, 2, 1) * tup).sum(), [ty], create_graph=True)
    assert_close(g, tg, F64)
    w = make(tuple(g.shape), device, F64, seed=6)
    second = plugrad.autograd.grad((g * g * w).sum(), [up])  # through the backward's backward
    tsecond = torch.autograd.grad((tg * tg * to_torch(w)).sum(), [tup])
    assert_close(second[0], tsecond[0], F64)


def test_max_pool2d_ties_give_the_gradient_to_the_first(device):
    x = plugrad.tensor(np.zeros((1, 1, 4, 4)), dtype=F64, device=device)  # all tied, as after ReLU
    compare_fn(lambda t: F.max_pool2d(t, 2), lambda t: tf.max_pool2d(t, 2), [x], device)


AVGPOOL = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2), stride=1, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), divisor_override=5),
]


@pytest.mark.parametrize("kwargs", AVGPOOL, ids=range(len(AVGPOOL)))
def test_avg_pool2d(device, kwargs):
    compare_module(nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs),
                   [make((2, 3, 7, 8), device, F64)], device, F64)  # fmt: skip


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (4, None), 2])
def test_adaptive_pools(device, size):
    x = make((2, 3, 7, 8), device, F64)
    ours = lambda t: F.adaptive_max_pool2d(t, size, return_indices=True)  # noqa: E731
    theirs = lambda t: tf.adaptive_max_pool2d(t, size, return_indices=True)  # noqa: E731
    compare_fn(ours, theirs, [x], device)
    compare_module(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), [x], device, F64)


def test_unbatched_pools(device):
    x = make((3, 6, 5), device, F64)
    compare_fn(lambda t: F.max_pool2d(t, 2, 1), lambda t: tf.max_pool2d(t, 2, 1), [x], device)
    compare_fn(lambda t: F.avg_pool2d(t, 2), lambda t: tf.avg_pool2d(t, 2), [x], device)


@pytest.mark.parametrize(
    "kwargs",
    [dict(kernel_size=(2, 3)), dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2))],
    ids=["plain", "strided"],
)
def test_unfold_and_fold(device, kwargs):
    x = make((2, 3, 7, 8), device, F64)
    compare_fn(lambda t: F.unfold(t, **kwargs), lambda t: tf.unfold(t, **kwargs), [x], device)
    cols = tf.unfold(to_torch(x), **kwargs)
    c = plugrad.tensor(cols.numpy(), dtype=F64, device=device)
    compare_fn(lambda t: F.fold(t, (7, 8), **kwargs), lambda t: tf.fold(t, (7, 8), **kwargs),
               [c], device)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=(5, 11), mode="nearest"),
        dict(scale_factor=2, mode="nearest"),
        dict(scale_factor=(1.5, 2.5), mode="bilinear", align_corners=False),
        dict(size=(9, 4), mode="bilinear", align_corners=True),
        dict(size=(2, 3), mode="bilinear"),
        dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    ],
    ids=[
        "nearest-size",
        "nearest-scale",
        "bilinear-scale",
        "bilinear-corners",
        "down",
        "recompute",
    ],
)
def test_interpolate(device, kwargs):
    x = make((2, 3, 4, 6), device, F64)
    compare_module(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), [x], device, F64)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d(device, training):
    ours = nn.BatchNorm2d(3, device=device, dtype=F64)
    with plugrad.no_grad():
        ours.weight.copy_(make((3,), device, F64, seed=5))
    ours.train(training)
    x = make((4, 3, 5, 6), device, F64)
    if not training:
        ours.running_mean.copy_(make((3,), device, F64, seed=6))
    compare_module(ours, torch.nn.BatchNorm2d(3), [x], device, F64)


@pytest.mark.parametrize("groups,affine", [(1, True), (2, True), (6, False)])
def test_group_norm(device, groups, affine):
    assert nn.GroupNorm(2, 6, bias=False).bias is None
    ours = nn.GroupNorm(groups, 6, affine=affine, device=device, dtype=F64)
    if affine:
        with plugrad.no_grad():
            ours.weight.copy_(make((6,), device, F64, seed=5))
            ours.bias.copy_(make((6,), device, F64, seed=7))
    x = make((2, 6, 3, 4), device, F64)
    compare_module(ours, torch.nn.GroupNorm(groups, 6, affine=affine), [x], device, F64)


def test_dropout2d_zeroes_whole_channels(device):
    plugrad.manual_seed(0)
    x = plugrad.ones(8, 16, 3, 3, dtype=F64, device=device)
    out = nn.Dropout2d(0.25)(x).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # one value per channel
    assert set(np.unique(out)) <= {0.0, 1.0 / 0.75}
    assert 0 < (per_channel[..., 0] == 0).sum() < 128
    y = x.clone()
    plugrad.manual_seed(0)
    assert F.dropout2d(y, 0.25, inplace=True) is y
    np.testing.assert_array_equal(y.numpy(), out)  # the same stream, the same mask
    layer = nn.Dropout2d(0.25)
    layer.eval()
    assert layer(x) is x


def test_bad_arguments_name_the_fix():
    x = plugrad.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, plugrad.zeros(2, 1, 3, 3), stride=1, output_padding=1)
    with pytest.raises(ValueError, match="fold: input must be"):
        F.fold(plugrad.zeros(1, 8, 5), (4, 4), 2)
    with pytest.raises(ValueError, match="num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)


BATCHNORM_TRAIN = [
    dict(shape=(4, 3, 5, 6), affine=True, bias=True, momentum=0.1),
    dict(shape=(2, 3, 1, 7), affine=True, bias=False, momentum=None),
    dict(shape=(5, 3, 2, 2), affine=False, bias=True, momentum=0.3),
    dict(shape=(2, 3, 3, 1), affine=True, bias=True, momentum=None),
]


@pytest.mark.parametrize("case", BATCHNORM_TRAIN, ids=range(len(BATCHNORM_TRAIN)))
def test_batchnorm2d_training_one_node(device, case):
    """The one-node training batch norm (plugrad.ops.normalization) against torch: outputs,
    input, weight and bias gradients and the running statistics over two batches."""
    kwargs = dict(affine=case["affine"], momentum=case["momentum"])
    ours = nn.BatchNorm2d(3, device=device, dtype=F64, bias=case["bias"], **kwargs)
    if case["affine"]:
        with plugrad.no_grad():
            ours.weight.copy_(make((3,), device, F64, seed=5))
            if case["bias"]:
                ours.bias.copy_(make((3,), device, F64, seed=7))
    theirs = torch.nn.BatchNorm2d(3, bias=case["bias"], **kwargs)
    x = make(case["shape"], device, F64) * 3.0 + 1.5
    compare_module(ours, theirs, [x], device, F64)
    compare_module(ours, theirs, [make(case["shape"], device, F64, seed=9)], device, F64, seed=4)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_batchnorm1d_training_one_node(device, shape):
    ours = nn.BatchNorm1d(4, device=device, dtype=F64)
    with plugrad.no_grad():
        ours.weight.copy_(make((4,), device, F64, seed=5))
        ours.bias.copy_(make((4,), device, F64, seed=7))
    compare_module(ours, torch.nn.BatchNorm1d(4), [make(shape, device, F64)], device, F64)


def test_batch_norm_training_second_derivatives(device):
    """create_graph through the one-node batch norm: the gradients' own gradients (of x,
    weight and bias) match torch's."""
    x, w, b = (make(s, device, F64, seed=k) for k, s in enumerate([(3, 2, 2, 3), (2,), (2,)]))
    up = make((3, 2, 2, 3), device, F64, seed=8)
    ours = [t.detach().requires_grad_(True) for t in (x, w, b)]
    theirs = [to_torch(t).requires_grad_(True) for t in (x, w, b)]
    out = F.batch_norm(ours[0], None, None, ours[1], ours[2], training=True)
    tout = tf.batch_norm(theirs[0], None, None, theirs[1], theirs[2], training=True)
    assert_close(out, tout, F64)
    grads = plugrad.autograd.grad((out * up).sum(), ours, create_graph=True)
    tgrads = torch.autograd.grad((tout * to_torch(up)).sum(), theirs, create_graph=True)
    for g, tg in zip(grads, tgrads):
        assert_close(g, tg, F64)
    total = sum(((g * g).sum() for g in grads), plugrad.tensor(0.0, dtype=F64, device=device))
    second = plugrad.autograd.grad(total, ours[:2])
    tsecond = torch.autograd.grad(sum((g * g).sum() for g in tgrads), theirs[:2])
    for g, tg in zip(second, tsecond):
        assert_close(g, tg, F64)
