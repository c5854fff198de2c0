"""Losses on probabilities, robust regression and embeddings (torch.nn.functional's names):
binary_cross_entropy, smooth_l1_loss, huber_loss, kl_div, cosine_embedding_loss,
margin_ranking_loss. The classification losses and mse/l1 live in functional.py.

`reduction` is 'mean' (default), 'sum' or 'none' (kl_div adds 'batchmean').
"""

from __future__ import annotations

import warnings

from plugrad.amp.casting import autocast_op
from plugrad.autograd.function import Function, FunctionCtx
from plugrad.autograd.tensor import Tensor, where

from ._reduction import check_reduction, reduce, warn_if_shapes_differ

__all__ = [
    "binary_cross_entropy",
    "cosine_embedding_loss",
    "huber_loss",
    "kl_div",
    "margin_ranking_loss",
    "smooth_l1_loss",
]

_LOG_FLOOR = -100.0  # torch clamps BCE's logarithms here, so a saturated input costs 100
_BCE_DENOMINATOR_FLOOR = 1e-12  # and floors x (1 - x) in the gradient
_COSINE_EPS = 1e-12  # added to each squared norm by cosine_embedding_loss, as torch


class _BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) with torch's gradients, which stay finite where x is
    exactly 0 or 1 (a saturated sigmoid), where the formula's own derivative is not:
    d/dx = (x - t) / max(x (1 - x), 1e-12), d/dt = log(1 - x) - log(x)."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, t: Tensor) -> Tensor:
        ctx.save_for_backward(x, t)
        log_x = x.log().clamp(min=_LOG_FLOOR)
        log_1mx = (1.0 - x).log().clamp(min=_LOG_FLOOR)
        return -(t * log_x + (1.0 - t) * log_1mx)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, t = ctx.saved_tensors
        grad_x = grad_t = None
        if ctx.needs_input_grad[0]:
            grad_x = grad * (x - t) / (x * (1.0 - x)).clamp(min=_BCE_DENOMINATOR_FLOOR)
        if ctx.needs_input_grad[1]:
            grad_t = grad * ((1.0 - x).log() - x.log())
        return grad_x, grad_t


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities input (any shape, values in [0, 1]) against
    targets of its shape; logarithms are floored at -100. Prefer
    binary_cross_entropy_with_logits on logits: it is stable without the floor."""
    check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy: target shape {target.shape} must equal input shape "
            f"{input.shape}"
        )
    if input.numel() and bool((~((input >= 0) & (input <= 1))).any()):
        raise ValueError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 (they are "
            "probabilities); for logits use binary_cross_entropy_with_logits"
        )
    loss = _BinaryCrossEntropy.apply(input, target.astype(input.dtype))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target
    (beta = 0 gives l1_loss)."""
    check_reduction(reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    warn_if_shapes_differ(input, target, "smooth_l1_loss")
    diff = input - target
    distance = diff.abs()
    if beta == 0:
        return reduce(distance, reduction)
    return reduce(where(distance < beta, diff * diff * (0.5 / beta), distance - 0.5 * beta),
                  reduction)  # fmt: skip


@autocast_op("huber_loss")
def huber_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): smooth_l1_loss times delta.
    weight (the input's shape) scales each element before the reduction."""
    check_reduction(reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    warn_if_shapes_differ(input, target, "huber_loss")
    diff = input - target
    distance = diff.abs()
    loss = where(distance < delta, diff * diff * 0.5, (distance - 0.5 * delta) * delta)
    if weight is not None:
        if weight.shape != input.shape:
            raise ValueError(
                f"huber_loss: weight of shape {weight.shape} must have the input's shape "
                f"{input.shape}"
            )
        loss = loss * weight
    return reduce(loss, reduction)


def _xlogx(t: Tensor) -> Tensor:
    """t log t, with 0 at t = 0 (its limit) and gradient 0 there: the derivative's -inf is
    dropped (torch's xlogy gives NaN there)."""
    zero = t == 0
    return where(zero, 0.0, t * where(zero, 1.0, t).log())


@autocast_op("kl_div")
def kl_div(
    input: Tensor,  # noqa: A002
    target: Tensor,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || exp(input)) per element for log-probabilities input:
    target (log target - input), or exp(target) (target - input) when log_target.

    reduction='batchmean' (sum / batch size) is the mathematical KL divergence; 'mean'
    divides by every element and warns, as torch. A zero target probability contributes 0;
    the gradient with respect to it is that of -target * input (torch's is NaN)."""
    check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size and is the KL divergence",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogx(target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return reduce(loss, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1 and max(0, cos(x1, x2) - margin) where it is -1,
    for inputs (N, D) with targets (N,), or (D,) with a 0-d target."""
    check_reduction(reduction)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ValueError(
            f"cosine_embedding_loss: input1 {input1.shape} and input2 {input2.shape} must have "
            "one shape, (N, D) or (D,)"
        )
    if target.ndim != input1.ndim - 1 or (target.ndim and target.shape[0] != input1.shape[0]):
        raise ValueError(
            f"cosine_embedding_loss: inputs of shape {input1.shape} need a target of shape "
            f"{input1.shape[:-1]}, got {target.shape}"
        )
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim)
    squared1 = (input1 * input1).sum(dim) + _COSINE_EPS
    squared2 = (input2 * input2).sum(dim) + _COSINE_EPS
    cos = dot / (squared1 * squared2).sqrt()
    similar = where(target == 1, 1.0 - cos, 0.0)
    dissimilar = where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return reduce(similar + dissimilar, reduction)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (x1 - x2) + margin): target 1 asks for x1 ranked above x2 by margin,
    -1 for the reverse. All three have the same number of dimensions."""
    check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(
            f"margin_ranking_loss: input1 {input1.shape}, input2 {input2.shape} and target "
            f"{target.shape} must have the same number of dimensions"
        )
    return reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)
