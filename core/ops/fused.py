"""The optional fused kernels (`protocol.FusedKernels`) on NDArrays: the backend's kernel when it
has one, else the same result composed from the required kernels.

They serve the hot paths of training (ReLU's backward, optimizer updates, softmax
cross-entropy, the softmax of attention), where one pass replaces several kernel calls and
their temporary buffers.
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


def softmax(x: NDArray, axis: int, log: bool) -> NDArray:
    """softmax (or log_softmax) of floating x over `axis` (non-negative, below x.ndim; 0 for
    a 0-d x),
    shifted by the max so that exp never overflows. A row of infinities (or NaN, or only
    -inf) gives NaN, as in torch.

    With the backend's kernel the axis is moved last and the operand compacted (a copy only
    when it is not already row-major in that order); the result is then a view of the
    kernel's compact output with `axis` put back, which `softmax_backward` reads without a
    copy."""
    name = "log_softmax" if log else "softmax"
    kernel = getattr(x.backend, name, None)
    if kernel is None or x.size == 0 or x.ndim == 0 or not x.dtype.is_floating:
        return _softmax_composite(x, axis, log)
    order, inverse = _axis_last(x.ndim, axis)
    rows = x.permute(order).compact() if order else x.compact()
    out = NDArray.empty(rows.shape, x.dtype, x.device)
    kernel(rows.strided(), out.strided())
    return out.permute(inverse) if order else out


def softmax_backward(y: NDArray, grad: NDArray, axis: int, log: bool) -> NDArray:
    """The gradient of `softmax(x, axis, log)` with respect to x, from its output y and the
    output's gradient: `y * (grad - sum(grad * y))` (softmax) or `grad - exp(y) * sum(grad)`
    (log_softmax), sums over `axis` kept."""
    if grad.dtype is not y.dtype:  # e.g. a float64 gradient into a float32 softmax
        grad = grad.astype(y.dtype)  # the kernels take one dtype
    name = "log_softmax_backward" if log else "softmax_backward"
    kernel = getattr(y.backend, name, None)
    if kernel is None or y.size == 0 or y.ndim == 0 or not y.dtype.is_floating:
        return _softmax_backward_composite(y, grad, axis, log)
    order, inverse = _axis_last(y.ndim, axis)
    if order:
        y, grad = y.permute(order), grad.permute(order)
    y, grad = y.compact(), grad.compact()
    out = NDArray.empty(y.shape, y.dtype, y.device)
    kernel(y.strided(), grad.strided(), out.strided())
    return out.permute(inverse) if order else out


def _axis_last(ndim: int, axis: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the permutation moving `axis` last, its inverse); both () when it already is."""
    if axis == ndim - 1:
        return (), ()
    order = tuple(d for d in range(ndim) if d != axis) + (axis,)
    inverse = tuple(order.index(d) for d in range(ndim))
    return order, inverse


def _softmax_composite(x: NDArray, axis: int, log: bool) -> NDArray:
    if x.size == 0:
        return x.copy()
    axes = (axis,) if x.ndim else ()
    # Shift by the max so exp never overflows. A row of infinities gives NaN, as in torch.
    shifted = x.binary("sub", x.reduce("max", axes, True) if axes else x)
    exp = shifted.unary("exp")
    total = exp.reduce("sum", axes, True)
    if log:
        return shifted.binary("sub", total.unary("log"))
    return exp.binary("div", total)


def _softmax_backward_composite(y: NDArray, grad: NDArray, axis: int, log: bool) -> NDArray:
    axes = (axis,) if y.ndim else ()
    if log:
        total = grad.reduce("sum", axes, True) if axes else grad
        return grad.binary("sub", y.unary("exp").binary("mul", total))
    product = grad.binary("mul", y)
    total = product.reduce("sum", axes, True) if axes else product
    return y.binary("mul", grad.binary("sub", total))


def _check_targets(target: NDArray, classes: int) -> None:
    low, high = (int(target.reduce(op).item()) for op in ("min", "max"))
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise IndexError(f"cross_entropy: target {bad} is outside [0, {classes})")


# --- the LSTM cell's gates ------------------------------------------------------------------
# pre = projected + recurrent splits into (i, f, g, o) of H columns each (torch's order):
# i, f, o = sigmoid(.), g = tanh(.), c = f * c_prev + i * g, h = o * tanh(c).


def _rows(x: NDArray) -> NDArray:
    """x itself when its last axis has unit stride (what the gate kernels take), else a copy."""
    return x if x.strides[-1] == 1 or x.shape[-1] <= 1 else x.compact()


def lstm_gates(
    projected: NDArray, recurrent: NDArray, c_prev: NDArray, gates: NDArray, c: NDArray,
    h: NDArray,
) -> None:  # fmt: skip
    """Write the activated gates (N, 4H), the cell c (N, H) and h (N, H) of one LSTM step from
    projected and recurrent (N, 4H) and c_prev (N, H), all of one floating dtype. The outputs
    have unit stride along their last axis and overlap nothing."""
    kernel = getattr(c.backend, "lstm_gates", None)
    if kernel is not None:
        operands = (_rows(projected), _rows(recurrent), _rows(c_prev), gates, c, h)
        kernel(*(x.strided() for x in operands))
        return
    hidden = c.shape[1]
    pre = projected.binary("add", recurrent)
    for j, op in enumerate(("sigmoid", "sigmoid", "tanh", "sigmoid")):
        _block(gates, j, hidden).assign_(_block(pre, j, hidden).unary(op))
    i, f, g, o = (_block(gates, j, hidden) for j in range(4))
    cell = f.binary("mul", c_prev)
    c.assign_(cell.binary("add", i.binary("mul", g), out=cell))
    h.assign_(o.binary("mul", c.unary("tanh")))


def lstm_gates_backward(
    dh: NDArray, dc: NDArray, gates: NDArray, c: NDArray, c_prev: NDArray, d_pre: NDArray,
    dc_prev: NDArray,
) -> None:  # fmt: skip
    """The gradients of one `lstm_gates` step: from dh and dc (N, H), the gradients of its h
    and c, and its gates and c (and c_prev), write d_pre (N, 4H), the gradient of
    projected + recurrent, and dc_prev (N, H). With t = tanh(c) and dc' = dc + dh o (1 - t^2):
    d_pre = [dc' g i(1-i), dc' c_prev f(1-f), dc' i (1-g^2), dh t o(1-o)], dc_prev = dc' f.
    Outputs as for `lstm_gates`."""
    kernel = getattr(c.backend, "lstm_gates_backward", None)
    if kernel is not None:
        operands = (_rows(dh), _rows(dc), _rows(gates), _rows(c), _rows(c_prev), d_pre, dc_prev)
        kernel(*(x.strided() for x in operands))
        return
    hidden = c.shape[1]
    i, f, g, o = (_block(gates, j, hidden) for j in range(4))
    tanh_c = c.unary("tanh")

    def one_minus(x: NDArray) -> NDArray:
        return x.scalar_op("sub", 1.0, reflected=True)

    dc_total = dh.binary("mul", o)
    dc_total.binary("mul", one_minus(tanh_c.binary("mul", tanh_c)), out=dc_total)
    dc_total.binary("add", dc, out=dc_total)
    _block(d_pre, 0, hidden).assign_(
        dc_total.binary("mul", g).binary("mul", i.binary("mul", one_minus(i)))
    )
    _block(d_pre, 1, hidden).assign_(
        dc_total.binary("mul", c_prev).binary("mul", f.binary("mul", one_minus(f)))
    )
    _block(d_pre, 2, hidden).assign_(
        dc_total.binary("mul", i).binary("mul", one_minus(g.binary("mul", g)))
    )
    _block(d_pre, 3, hidden).assign_(
        dh.binary("mul", tanh_c).binary("mul", o.binary("mul", one_minus(o)))
    )
    dc_prev.assign_(dc_total.binary("mul", f, out=dc_total))


def _block(x: NDArray, j: int, hidden: int) -> NDArray:
    """Columns [j H, (j + 1) H) of x (N, 4H): gate j."""
    return x.slice_view((slice(None), slice(j * hidden, (j + 1) * hidden)))
