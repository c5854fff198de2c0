"""RMSprop: steps scaled by a running root mean square of the gradients."""

from __future__ import annotations

from typing import Any

from .optimizer import Optimizer, ParamsT
from .validation import check_non_negative, check_not_differentiable


class RMSprop(Optimizer):
    """torch.optim.RMSprop's update, per parameter p with gradient g:

    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g^2
    centered: m = alpha * m + (1 - alpha) * g and the denominator uses v - m^2
    avg = sqrt(v [- m^2]) + eps
    momentum > 0: b = momentum * b + g / avg; p = p - lr * b
    otherwise:    p = p - lr * g / avg

    `capturable` and `foreach` are accepted for torch compatibility and change nothing.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        check_not_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        for p, g in self._params_with_grads(group):
            state = self._state_for(p)
            state["step"] = state.get("step", 0) + 1
            if weight_decay != 0:
                g = g + p.detach() * weight_decay
            square_avg = self._zeros_state(state, "square_avg", p)
            square_avg.mul_(alpha).add_(g * g, alpha=1.0 - alpha)
            if group["centered"]:
                grad_avg = self._zeros_state(state, "grad_avg", p)
                grad_avg.add_(g - grad_avg, alpha=1.0 - alpha)
                avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
            else:
                avg = square_avg.sqrt() + eps
            if momentum > 0:
                buf = self._zeros_state(state, "momentum_buffer", p)
                buf.mul_(momentum).add_(g / avg)
                p.add_(buf, alpha=-lr)
            else:
                p.add_(g / avg, alpha=-lr)
