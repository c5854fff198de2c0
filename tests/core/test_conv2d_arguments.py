"""conv2d's arguments as torch takes them: padding 'same' and 'valid' (values and gradients
against torch), and stride, padding, dilation, groups and kernels that make no sense refused
with a message naming the argument, never truncated to an int or run to a wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def _pair_of_inputs(device, x_shape, w_shape, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    ours = [
        plugrad.tensor(a, dtype=plugrad.float64, device=device, requires_grad=True) for a in (x, w)
    ]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w)]
    return ours, theirs


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note
@pytest.mark.parametrize(
    "w_shape, kwargs",
    [
        ((2, 3, 3, 3), dict(padding="same")),
        ((2, 3, 2, 2), dict(padding="same")),  # even kernel: the extra row/column goes after
        ((2, 3, 2, 3), dict(padding="same", dilation=(1, 2))),
        ((2, 3, 4, 1), dict(padding="same", dilation=(3, 1))),
        ((3, 1, 2, 2), dict(padding="same", groups=3, bias=True)),
        ((2, 3, 3, 2), dict(padding="valid")),
        ((2, 3, 3, 2), dict(padding="valid", stride=2)),
        ((2, 3, 2, 2), dict(padding="same", stride=(1, 1))),
    ],
    ids=["odd", "even", "dilated", "tall", "groups-bias", "valid", "valid-strided", "stride-1"],
)
def test_string_padding_matches_torch(device, w_shape, kwargs):
    kwargs = dict(kwargs)
    with_bias = kwargs.pop("bias", False)
    (x, w), (tx, tw) = _pair_of_inputs(device, (2, 3, 5, 6), w_shape)
    b = (
        plugrad.tensor(np.arange(w_shape[0], dtype=np.float64), device=device)
        if with_bias
        else None
    )
    tb = torch.tensor(b.numpy()) if with_bias else None
    out = F.conv2d(x, w, b, **kwargs)
    tout = torch.nn.functional.conv2d(tx, tw, tb, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    if kwargs["padding"] == "same":
        assert out.shape[2:] == x.shape[2:]
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    (out * plugrad.tensor(upstream, device=device)).sum().backward()
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


# (keyword arguments, plugrad's error, what its message says); torch refuses each too.
REFUSED = {
    "stride-float": (dict(stride=(1.5, 1.5)), TypeError, r"conv2d\(\): stride must be an int"),
    "stride-zero": (dict(stride=0), ValueError, r"stride must be .* each at least 1, got 0"),
    "stride-three": (dict(stride=(1, 1, 1)), ValueError, r"stride must be .* sequence of 2 ints"),
    "stride-bool": (dict(stride=True), TypeError, r"stride must be .* got True \(bool\)"),
    "groups-float": (dict(groups=3.7), TypeError, r"conv2d\(\): groups must be an int of at lea"),
    "groups-whole-float": (dict(groups=1.0), TypeError, r"groups must be an int"),
    "groups-zero": (dict(groups=0), ValueError, r"groups must be an int of at least 1, got 0"),
    "groups-negative": (dict(groups=-1), ValueError, r"groups must be an int of at least 1"),
    "padding-none": (
        dict(padding=None), TypeError,
        r"padding must be 'same', 'valid', an int or a sequence of 2 ints, .* got None",
    ),
    "padding-negative": (dict(padding=-1), ValueError, r"padding must be .* at least 0"),
    "padding-unknown": (dict(padding="full"), ValueError, r"padding must be 'same', 'valid'"),
    "padding-same-strided": (
        dict(padding="same", stride=2), ValueError,
        r"padding='same' is not supported for strided convolutions",
    ),
    "dilation-zero": (dict(dilation=0), ValueError, r"dilation must be .* at least 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_nonsense_arguments_are_refused_naming_them(device, case):
    kwargs, error, message = REFUSED[case]
    x, w = plugrad.ones(1, 1, 4, 4, device=device), plugrad.ones(1, 1, 2, 2, device=device)
    with pytest.raises(error, match=message):
        F.conv2d(x, w, **kwargs)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2), **kwargs)


@pytest.mark.parametrize("kernel", [(0, 0), (0, 2), (2, 0)])
def test_an_empty_kernel_is_refused_not_an_all_zero_output(device, kernel):
    x = plugrad.ones(1, 1, 3, 3, device=device)
    with pytest.raises(ValueError, match=r"kernel size must be at least 1x1"):
        F.conv2d(x, plugrad.ones(1, 1, *kernel, device=device))
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero"):
        torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, *kernel))


def test_input_and_weight_must_be_tensors(device):
    with pytest.raises(TypeError, match=r"conv2d\(\): input and weight must be Tensors, got list"):
        F.conv2d([[1.0]], plugrad.ones(1, 1, 1, 1, device=device))


def test_the_layer_checks_its_arguments_when_built():
    with pytest.raises(ValueError, match=r"Conv2d\(\): groups must be an int of at least 1"):
        nn.Conv2d(2, 2, 3, groups=0)
    with pytest.raises(TypeError, match=r"Conv2d\(\): stride must be an int"):
        nn.Conv2d(2, 2, 3, stride=1.5)
    with pytest.raises(ValueError, match=r"Conv2d\(\): padding='same' is not supported for stri"):
        nn.Conv2d(2, 2, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"Conv2d\(\): padding must be 'same', 'valid'"):
        nn.Conv2d(2, 2, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2d\(\): kernel_size must be .* at least 1"):
        nn.Conv2d(2, 2, 0)
    with pytest.raises(TypeError, match=r"Conv2d\(\): in_channels must be an int"):
        nn.Conv2d(2.5, 2, 3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        torch.nn.Conv2d(2, 2, 3, padding="same", stride=2)
