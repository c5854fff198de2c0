"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

from __future__ import annotations

from typing import Any

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..factory import full_like
from .optimizer import Optimizer, ParamsT
from .validation import check_non_negative, check_not_differentiable


class Adagrad(Optimizer):
    """torch.optim.Adagrad's update at step t, per parameter p with gradient g:

    g = g + weight_decay * p
    s = s + g^2                                   (s starts at initial_accumulator_value)
    p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    As in torch the state exists from construction (step 0, s filled), so a state_dict
    taken before the first step already lists every parameter. `foreach` and `fused` are
    accepted for torch compatibility and change nothing.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        check_not_differentiable(differentiable)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self._state_for(p)
        if not state:
            state["step"] = 0
            with no_grad():
                state["sum"] = full_like(p, group["initial_accumulator_value"])
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay = group["weight_decay"]
        for p, g in self._params_with_grads(group):
            state = self._init_state(p, group)
            state["step"] += 1
            if weight_decay != 0:
                g = g + p.detach() * weight_decay
            clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum.add_(g * g)
            p.add_(g / (state_sum.sqrt() + eps), alpha=-clr)
