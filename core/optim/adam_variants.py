"""Adam's relatives: NAdam (Nesterov momentum), RAdam (rectified variance) and Adamax
(infinity norm). Each keeps Adam's first moment m; the second moment differs."""

from __future__ import annotations

import math
from typing import Any

from ..autograd.tensor import Tensor
from .optimizer import Optimizer, ParamsT
from .validation import check_betas, check_non_negative, check_not_differentiable


class _AdamFamily(Optimizer):
    """Shared construction and the steps every member takes first: count the step, apply
    weight decay (L2 into g, or decoupled p *= 1 - lr * wd) and update m = lerp(m, g, 1 - b1)."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any], differentiable: bool) -> None:
        check_non_negative(
            lr=defaults["lr"], eps=defaults["eps"], weight_decay=defaults["weight_decay"]
        )
        defaults["betas"] = check_betas(defaults["betas"])
        check_not_differentiable(differentiable)
        super().__init__(params, defaults)

    def _begin(self, group: dict[str, Any], p: Tensor, g: Tensor) -> tuple[dict, Tensor, int]:
        state = self._state_for(p)
        state["step"] = step = state.get("step", 0) + 1
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            if group.get("decoupled_weight_decay"):
                p.mul_(1.0 - group["lr"] * weight_decay)
            else:
                g = g + p.detach() * weight_decay
        exp_avg = self._zeros_state(state, "exp_avg", p)
        exp_avg.add_(g - exp_avg, alpha=1.0 - group["betas"][0])
        return state, g, step


class NAdam(_AdamFamily):
    """torch.optim.NAdam: Adam with Nesterov momentum whose coefficient warms up,
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)):

    v = beta2 * v + (1 - beta2) * g^2;  denom = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr * (1 - mu_t) / (1 - prod(mu_1..t)) * g / denom
          - lr * mu_{t+1} / (1 - prod(mu_1..t+1)) * m / denom
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_non_negative(momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, differentiable)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        eps, momentum_decay = group["eps"], group["momentum_decay"]
        for p, g in self._params_with_grads(group):
            state, g, step = self._begin(group, p, g)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            state["mu_product"] = mu_product = state.get("mu_product", 1.0) * mu
            exp_avg_sq = self._zeros_state(state, "exp_avg_sq", p)
            exp_avg_sq.mul_(beta2).add_(g * g, alpha=1.0 - beta2)
            denom = (exp_avg_sq / (1.0 - beta2**step)).sqrt() + eps
            p.add_(g / denom, alpha=-lr * (1.0 - mu) / (1.0 - mu_product))
            p.add_(state["exp_avg"] / denom, alpha=-lr * mu_next / (1.0 - mu_product * mu_next))


class RAdam(_AdamFamily):
    """torch.optim.RAdam: Adam whose adaptive step is switched on, and rectified, once the
    variance estimate is tractable. With rho_inf = 2 / (1 - beta2) - 1 and
    rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t):

    rho_t > 5: p = p - lr * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps) * m / (1 - beta1^t),
               r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    otherwise: p = p - lr * m / (1 - beta1^t)            (SGD with momentum)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, differentiable)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        for p, g in self._params_with_grads(group):
            state, g, step = self._begin(group, p, g)
            exp_avg_sq = self._zeros_state(state, "exp_avg_sq", p)
            exp_avg_sq.mul_(beta2).add_(g * g, alpha=1.0 - beta2)
            bias_correction1, bias_correction2 = 1.0 - beta1**step, 1.0 - beta2**step
            corrected = state["exp_avg"] / bias_correction1
            rho_t = rho_inf - 2.0 * step * beta2**step / bias_correction2
            if rho_t > 5.0:
                rect = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
                adaptive = math.sqrt(bias_correction2) / (exp_avg_sq.sqrt() + eps)
                p.add_(corrected * adaptive, alpha=-lr * rect)
            else:
                p.add_(corrected, alpha=-lr)


class Adamax(_AdamFamily):
    """torch.optim.Adamax: Adam with the infinity norm for the second moment,

    u = max(beta2 * u, |g| + eps);  p = p - lr / (1 - beta1^t) * m / u
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, differentiable)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p, g in self._params_with_grads(group):
            state, g, step = self._begin(group, p, g)
            exp_inf = self._zeros_state(state, "exp_inf", p)
            exp_inf.copy_((exp_inf * beta2).maximum(g.abs() + eps))
            p.add_(state["exp_avg"] / exp_inf, alpha=-lr / (1.0 - beta1**step))
