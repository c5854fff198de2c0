"""The optional fused kernels (`protocol.FusedKernels`) on NDArrays: the backend's kernel when it
has one, else the same result composed from the required kernels.

They serve the hot paths of training (ReLU's backward, optimizer updates, softmax
cross-entropy), where one pass replaces several kernel calls and their temporary buffers.
"""

from __future__ import annotations

from ..ndarray import NDArray


def relu_backward(grad: NDArray, y: NDArray) -> NDArray:
    """0 where relu's output y <= 0, else grad (same shape; floating)."""
    if grad.dtype is not y.dtype:  # e.g. a float64 gradient into a float32 relu
        grad = grad.astype(y.dtype)  # the kernels take one dtype
    out = NDArray.empty(y.shape, y.dtype, y.device)
    kernel = getattr(y.backend, "relu_backward", None)
    if kernel is not None:
        kernel(grad.strided(), y.strided(), out.strided())
        return out
    blocked = y.scalar_op("le", 0.0)
    zero = NDArray.full((), 0, y.dtype, y.device)._broadcast_view(y.shape)
    y.backend.where(blocked.strided(), zero.strided(), grad.strided(), out.strided())
    return out


def axpy(alpha: float, x: NDArray, out: NDArray) -> None:
    """out += alpha * x in place (x already of out's shape and dtype; floating)."""
    kernel = getattr(out.backend, "axpy", None)
    if kernel is not None:
        kernel(alpha, x.strided(), out.strided())
    else:
        out.binary("add", x.scalar_op("mul", float(alpha)), out=out)


def cross_entropy(logits: NDArray, target: NDArray, scale: float) -> tuple[NDArray, NDArray]:
    """(log_softmax(logits) by rows (N, C), scale * sum_i -log_probs[i, target_i] as 0-d).

    logits (N, C) floating with N, C >= 1; target (N,) int64. Raises IndexError when a target
    lies outside [0, C).
    """
    n, c = logits.shape
    kernel = getattr(logits.backend, "cross_entropy", None)
    if kernel is not None:
        log_probs = NDArray.empty((n, c), logits.dtype, logits.device)
        loss = NDArray.empty((), logits.dtype, logits.device)
        kernel(logits.strided(), target.strided(), scale, log_probs.strided(), loss.strided())
        return log_probs, loss
    _check_targets(target, c)
    shifted = logits.binary("sub", logits.reduce("max", (1,), True))
    total = shifted.unary("exp").reduce("sum", (1,), True)
    log_probs = shifted.binary("sub", total.unary("log"))
    picked = NDArray.empty((n, 1), logits.dtype, logits.device)
    index = target.reshape(n, 1)
    logits.backend.gather(log_probs.strided(), 1, index.strided(), picked.strided())
    return log_probs, picked.reduce("sum").scalar_op("mul", -float(scale))


def cross_entropy_backward(
    log_probs: NDArray, target: NDArray, grad: NDArray, scale: float
) -> NDArray:
    """grad * scale * (exp(log_probs) - one_hot(target)): the gradient of `cross_entropy`'s loss
    with respect to the logits, (N, C). grad is the loss's 0-d gradient."""
    n, c = log_probs.shape
    if grad.dtype is not log_probs.dtype:  # e.g. loss.backward(a float64 gradient)
        grad = grad.astype(log_probs.dtype)  # the kernels take one dtype
    out = NDArray.empty((n, c), log_probs.dtype, log_probs.device)
    kernel = getattr(log_probs.backend, "cross_entropy_backward", None)
    if kernel is not None:
        kernel(log_probs.strided(), target.strided(), grad.strided(), scale, out.strided())
        return out
    _check_targets(target, c)  # scatter_add trusts its indices
    log_probs.backend.unary("exp", log_probs.strided(), out.strided())
    minus_one = NDArray.full((), -1, out.dtype, out.device)._broadcast_view((n, 1))
    index = target.reshape(n, 1)
    out.backend.scatter_add(out.strided(), 1, index.strided(), minus_one.strided())
    factor = grad.scalar_op("mul", float(scale))
    return out.binary("mul", factor._broadcast_view((n, c)), out=out)


def _check_targets(target: NDArray, classes: int) -> None:
    low, high = (int(target.reduce(op).item()) for op in ("min", "max"))
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise IndexError(f"cross_entropy: target {bad} is outside [0, {classes})")
