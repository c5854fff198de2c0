"""Adam (L2 weight decay folded into the gradient) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import inplace
from ..factory import zeros_like
from ..ops import fused
from .optimizer import Optimizer, ParamsT
from .validation import check_betas, check_non_negative


class Adam(Optimizer):
    """torch.optim.Adam's update with bias correction, per parameter p with gradient g:

    g = g + weight_decay * p                       (Adam; AdamW decays p instead)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g^2              (amsgrad: v_max = max(v_max, v))
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(lr=lr, eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=check_betas(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)  # fmt: skip
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        eps, weight_decay = group["eps"], group["weight_decay"]
        amsgrad = group["amsgrad"]
        for p, g in self._params_with_grads(group):
            state = self._state_for(p)
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like(p)
            state["step"] += 1
            step = state["step"]
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            if not amsgrad and _update_arrays(
                p, g, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step,
                self._decoupled,
            ):  # fmt: skip
                continue
            if weight_decay != 0:
                if self._decoupled:
                    p.mul_(1.0 - lr * weight_decay)
                else:
                    g = g + p.detach() * weight_decay
            exp_avg.mul_(beta1).add_(g, alpha=1.0 - beta1)
            exp_avg_sq.mul_(beta2).add_(g * g, alpha=1.0 - beta2)
            bias_correction1 = 1.0 - beta1**step
            bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
            if amsgrad:
                second = state["max_exp_avg_sq"]
                second.copy_(second.maximum(exp_avg_sq))
            else:
                second = exp_avg_sq
            denom = second.sqrt() / bias_correction2_sqrt + eps
            p.add_(exp_avg / denom, alpha=-(lr / bias_correction1))


def _update_arrays(p, g, exp_avg, exp_avg_sq, lr: float, beta1: float, beta2: float, eps: float,
                   weight_decay: float, step: int, decoupled: bool) -> bool:  # fmt: skip
    """The Adam(W) update of one parameter straight on its arrays, in place (the same
    arithmetic as the tensor path, without its per-op overhead), when the parameter, its
    gradient and both moments are compact floating arrays of one shape, dtype and device;
    False (nothing done) otherwise."""
    if p._base is not None or not isinstance(lr, (int, float)):
        return False
    pa, ga, m, v = p.array, g.array, exp_avg.array, exp_avg_sq.array
    dtype, shape, device = pa.dtype, pa.shape, pa.device
    for a in (ga, m, v):
        if a.dtype is not dtype or a.shape != shape or a.device is not device:
            return False
    if not dtype.is_floating or not (pa.is_compact() and m.is_compact() and v.is_compact()):
        return False
    if pa.buffer is ga.buffer or pa.buffer is m.buffer or pa.buffer is v.buffer:
        return False
    if weight_decay != 0:
        if decoupled:
            pa.scalar_op("mul", float(1.0 - lr * weight_decay), out=pa)
        else:
            ga = ga.binary("add", pa.scalar_op("mul", float(weight_decay)))
    m.scalar_op("mul", float(beta1), out=m)
    fused.axpy(1.0 - beta1, ga, m)
    v.scalar_op("mul", float(beta2), out=v)
    fused.axpy(1.0 - beta2, ga.binary("mul", ga), v)
    denom = v.unary("sqrt")
    denom.scalar_op("div", float(math.sqrt(1.0 - beta2**step)), out=denom)
    denom.scalar_op("add", float(eps), out=denom)
    m.binary("div", denom, out=denom)
    fused.axpy(-(lr / (1.0 - beta1**step)), denom, pa)
    for t in (p, exp_avg, exp_avg_sq):
        inplace.bump(t)
    return True


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p * (1 - lr * weight_decay) before the Adam
    update (default weight_decay 1e-2, as torch)."""

    _decoupled = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
