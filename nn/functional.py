"""plugrad.nn.functional: the layers and losses of plugrad.nn as functions.

Shapes follow torch: N is the batch, C the classes or channels, `*` any extra dimensions.
This module holds the layers and the classification and mse/l1 losses; the other families
live beside it and are re-exported here: functional_activation (leaky_relu, elu, selu, silu,
mish, softplus, hardtanh, relu6, hardswish, prelu), functional_loss (binary_cross_entropy,
smooth_l1_loss, huber_loss, kl_div, cosine_embedding_loss, margin_ranking_loss) and
functional_distance (normalize, cosine_similarity, pairwise_distance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from plugrad import dtypes as dt
from plugrad.amp.casting import autocast_op
from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor, conv2d, one_hot, pad, where
from plugrad.factory import bernoulli
from plugrad.factory import zeros as plugrad_zeros
from plugrad.ops.gather import Gather
from plugrad.ops.linalg import Linear as LinearOp
from plugrad.ops.loss import CrossEntropy
from plugrad.ops.normalization import BatchNormTrain
from plugrad.random import Generator

from ._reduction import check_reduction as _check_reduction
from ._reduction import reduce as _reduce
from ._reduction import warn_if_shapes_differ as _check_same_shape
from .embedding import embedding
from .functional_activation import (
    elu,
    hardswish,
    hardtanh,
    leaky_relu,
    mish,
    prelu,
    relu6,
    selu,
    silu,
    softplus,
)
from .functional_conv import conv1d, conv_transpose2d, fold, unfold
from .functional_distance import cosine_similarity, normalize, pairwise_distance
from .functional_loss import (
    binary_cross_entropy,
    cosine_embedding_loss,
    huber_loss,
    kl_div,
    margin_ranking_loss,
    smooth_l1_loss,
)
from .functional_pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    max_pool2d,
)
from .functional_resample import interpolate

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "conv1d",
    "conv_transpose2d",
    "dropout2d",
    "fold",
    "group_norm",
    "interpolate",
    "max_pool2d",
    "unfold",
    "embedding",
    "scaled_dot_product_attention",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "elu",
    "flatten",
    "gelu",
    "hardswish",
    "hardtanh",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "margin_ranking_loss",
    "mish",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]


# --- layers ------------------------------------------------------------------------------
@autocast_op("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """(*, in) @ weight(out, in).T + bias(out) -> (*, out), as one graph node."""
    if bias is None:
        return LinearOp()(input, weight)
    return LinearOp()(input, weight, bias)


def relu(input: Tensor) -> Tensor:  # noqa: A002
    return input.relu()


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return input.sigmoid()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x); approximate='tanh' for the tanh formula."""
    return input.gelu(approximate)


def softmax(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    return input.log_softmax(dim)


def flatten(input: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Merge dimensions start_dim..end_dim (by default all but the batch)."""
    return input.flatten(start_dim, end_dim)


def dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    generator: Generator | None = None,
) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).

    The mask is `bernoulli(1 - p)` from `generator`: one random call when 0 < p < 1 and
    training, none otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = bernoulli(
        1.0 - p, input.shape, dtype=input.dtype, device=input.device, generator=generator
    )
    return input * (keep * (1.0 / (1.0 - p)))


def dropout2d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Zero whole channels of (N, C, H, W) (or (C, H, W)) with probability p, scale the rest by
    1/(1-p) (training only): one draw per channel, broadcast over H and W."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d probability must lie in [0, 1], got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects (N, C, H, W) or (C, H, W) input, got {input.shape}")
    if not training or p == 0.0:
        return input
    shape = input.shape[: input.ndim - 2] + (1, 1)
    if p == 1.0:
        scale = plugrad_zeros(shape, dtype=input.dtype, device=input.device)
    else:
        keep = bernoulli(
            1.0 - p, shape, dtype=input.dtype, device=input.device, generator=generator
        )
        scale = keep * (1.0 / (1.0 - p))
    return input.mul_(scale) if inplace else input * scale


@autocast_op("group_norm")
def group_norm(
    input: Tensor,  # noqa: A002
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize (N, C, *) over each of num_groups groups of C / num_groups channels (and all
    of *), then scale and shift per channel."""
    if input.ndim < 2 or num_groups < 1 or input.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: input {input.shape} must be (N, C, *) with C divisible by num_groups "
            f"({num_groups})"
        )
    n, c = input.shape[:2]
    grouped = input.reshape(n, num_groups, -1)
    mean = grouped.mean(-1, keepdim=True)
    centered = grouped - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """Normalize (N, C, *) per channel C, with batch statistics when training (updating the
    running ones in place) and the running statistics otherwise.

    momentum=None makes the running statistics a cumulative average (needs
    num_batches_tracked, which is incremented in place).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects (N, C) or (N, C, *) input, got shape {input.shape}")
    channels = input.shape[1]
    shape = (1, channels) + (1,) * (input.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and t.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} has shape {t.shape} but the input {input.shape} has "
                f"{channels} channels"
            )
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        count = input.numel() // max(channels, 1)
        if count <= 1:
            raise ValueError(
                f"batch_norm needs more than one value per channel when training, got input "
                f"of shape {input.shape}; use a larger batch or eval()"
            )
        fast = _one_node_batch_norm(input, weight, bias)
        if fast is not None:
            op = BatchNormTrain(eps, weight is not None, bias is not None)
            out = op(*fast)
            mean, var = Tensor._wrap(op.mean), Tensor._wrap(op.var)
        else:
            mean = input.mean(axes, keepdim=True)
            centered = input - mean
            var = (centered * centered).mean(axes, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                if momentum is None:
                    if num_batches_tracked is None:
                        raise ValueError("batch_norm with momentum=None needs num_batches_tracked")
                    num_batches_tracked.add_(1)
                    factor = 1.0 / float(num_batches_tracked.item())
                else:
                    if num_batches_tracked is not None:
                        num_batches_tracked.add_(1)
                    factor = momentum
                # alpha= takes the fused axpy (one pass) where the dtypes agree
                running_mean.mul_(1.0 - factor).add_(mean.detach().reshape(channels), alpha=factor)
                unbiased = factor * count / (count - 1)  # the variance's unbiased weight
                running_var.mul_(1.0 - factor).add_(var.detach().reshape(channels), alpha=unbiased)
        if fast is not None:
            return out
        out = centered * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        scale = (running_var + eps).rsqrt().reshape(shape)
        out = (input - running_mean.reshape(shape)) * scale
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _one_node_batch_norm(
    input: Tensor,  # noqa: A002
    weight: Tensor | None,
    bias: Tensor | None,
) -> tuple[Tensor, ...] | None:
    """The inputs of the one-node training batch norm (`BatchNormTrain`) when it applies: a
    floating input, weight and bias (where given) of its dtype and device; else None (the
    composed path, which promotes mixed dtypes)."""
    if not input.dtype.is_floating or input.dtype.itemsize < 4:
        return None
    inputs = [input]
    for t in (weight, bias):
        if t is not None:
            if t.dtype is not input.dtype or t.device is not input.device:
                return None
            inputs.append(t)
    return tuple(inputs)


@autocast_op("layer_norm")
def layer_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing `normalized_shape` dimensions, then scale and shift."""
    norm = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(norm) :] != norm or len(norm) > input.ndim:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end with normalized_shape {norm}"
        )
    axes = tuple(range(input.ndim - len(norm), input.ndim))
    mean = input.mean(axes, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# --- losses ------------------------------------------------------------------------------
def _classes_last(input: Tensor, target: Tensor, what: str) -> tuple[Tensor, Tensor, tuple]:
    """(N, C, *) scores and (N, *) targets as (M, C) and (M,), with the target's shape."""
    if input.ndim == 1:
        if target.ndim != 0:
            raise ValueError(
                f"{what}: unbatched input of shape {input.shape} needs a 0-d target, got "
                f"shape {target.shape}"
            )
        return input.reshape(1, -1), target.reshape(1), ()
    expected = (input.shape[0],) + input.shape[2:]
    if input.ndim < 1 or target.shape != expected:
        raise ValueError(
            f"{what}: input of shape {input.shape} (N, C, *) needs an integer target of shape "
            f"{expected} (N, *), got {target.shape}"
        )
    if input.ndim > 2:
        order = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(order).reshape(-1, input.shape[1])
        return input, target.reshape(-1), expected
    return input, target, expected


@autocast_op("nll_loss")
def nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities input (N, C, *) at int64 targets (N, *).

    With class weights w, 'mean' divides by the sum of w over the (non-ignored) targets.
    """
    _check_reduction(reduction)
    if target.dtype is not dt.int64:
        raise TypeError(
            f"nll_loss/cross_entropy need int64 class-index targets, got {target.dtype.name}; "
            "convert with target.long()"
        )
    scores, flat, out_shape = _classes_last(input, target, "nll_loss")
    classes = scores.shape[1]
    if weight is not None and weight.shape != (classes,):
        raise ValueError(
            f"weight must have shape ({classes},) for {classes} classes, got {weight.shape}"
        )
    # One look at the targets' range answers both "any ignored?" and "all in range?".
    low, high = (
        (int(flat.array.reduce(op).item()) for op in ("min", "max")) if flat.numel() else (0, 0)
    )
    ignored = flat == ignore_index if low <= ignore_index <= high else None
    any_ignored = ignored is not None and bool(ignored.any())
    index = where(ignored, 0, flat) if any_ignored else flat
    if any_ignored:
        low, high = (int(index.array.reduce(op).item()) for op in ("min", "max"))
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise IndexError(
            f"target values must lie in [0, {classes}) (or equal ignore_index={ignore_index}): "
            f"got {bad}"
        )
    picked = Gather(1, checked=True)(scores, index.reshape(-1, 1)).reshape(-1)
    w = None
    if weight is not None:
        w = weight.detach()[index]
    if any_ignored:
        keep = (~ignored).astype(scores.dtype)
        w = keep if w is None else w * keep
    loss = -picked if w is None else -(picked * w)
    if reduction == "none":
        return loss.reshape(out_shape)
    if reduction == "sum":
        return loss.sum()
    if w is None:
        return loss.mean()
    return loss.sum() / w.sum()


@autocast_op("cross_entropy")
def cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C, *) against int64 class indices (N, *), or
    against class probabilities of the input's shape.

    label_smoothing=s mixes the one-hot target with the uniform distribution: (1-s) y + s/C.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    if (
        input.ndim == 2
        and target.ndim == 1
        and target.dtype is dt.int64
        and weight is None
        and label_smoothing == 0.0
        and reduction in ("mean", "sum")
        and target.shape[0] == input.shape[0] > 0
        and input.shape[1] > 0
        and input.dtype.is_floating
        and not 0 <= ignore_index < input.shape[1]
    ):
        try:
            return CrossEntropy(reduction)(input, target)  # the fused common case
        except IndexError:
            pass  # a target outside [0, C): ignore_index rows, or an error the general path names
    class_dim = 0 if input.ndim == 1 else 1
    logp = input.log_softmax(class_dim)
    classes = input.shape[class_dim]
    if target.dtype.is_floating:
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: a floating target holds class probabilities and needs the "
                f"input's shape {input.shape}, got {target.shape}; for class indices pass an "
                "int64 target (target.long())"
            )
        if label_smoothing > 0:
            target = target * (1.0 - label_smoothing) + label_smoothing / classes
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape((classes,) + (1,) * (input.ndim - 1 - class_dim))
        return _reduce(-prod.sum(class_dim), reduction)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    ignored = target == ignore_index
    per_class = logp
    if weight is not None:
        per_class = logp * weight.reshape((classes,) + (1,) * (input.ndim - 1 - class_dim))
    smooth = -per_class.sum(class_dim)
    any_ignored = ignored.numel() > 0 and bool(ignored.any())
    if any_ignored:
        smooth = smooth * (~ignored).astype(smooth.dtype)
    if reduction == "mean":
        if weight is not None:
            safe = where(ignored, 0, target) if any_ignored else target
            w = weight.detach()[safe.reshape(-1)]
            if any_ignored:
                w = w * (~ignored).reshape(-1).astype(w.dtype)
            smooth = smooth.sum() / w.sum()
        else:
            kept = target.numel() - (
                int(ignored.astype(dt.int64).sum().item()) if any_ignored else 0
            )
            smooth = smooth.sum() / kept if kept else smooth.sum() * math.nan
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


@autocast_op("mse_loss")
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error (input - target)^2, reduced."""
    _check_reduction(reduction)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


@autocast_op("l1_loss")
def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error |input - target|, reduced."""
    _check_reduction(reduction)
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula; targets in [0, 1], input's shape.

    pos_weight (broadcast over the last dimension, one per class) weights positive examples.
    """
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {target.shape} must equal input "
            f"shape {input.shape}"
        )
    # softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log(1 + exp(-|x|))
    softplus_neg = (-input).clamp(min=0.0) + ((-input.abs()).exp() + 1.0).log()
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input + log_weight * softplus_neg
    else:
        loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# Attention is built on linear, softmax and dropout above, so it is imported after them.
from .functional_attention import scaled_dot_product_attention  # noqa: E402
