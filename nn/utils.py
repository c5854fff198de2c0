"""plugrad.nn.utils: gradient clipping."""

from __future__ import annotations

import math
from collections.abc import Iterable

from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor, stack
from plugrad.factory import tensor as make_tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients in place so that their joint norm is at most max_norm.

    Returns the total norm before clipping (a 0-d tensor on the first gradient's device).
    The scale is max_norm / (norm + 1e-6), applied only when below 1, as in torch.
    """
    params = _with_grads(parameters)
    if not params:
        return make_tensor(0.0)
    norm_type = float(norm_type)
    device = params[0].grad.device
    with no_grad():
        norms = []
        for p in params:
            g = p.grad.detach()
            if norm_type == math.inf:
                norms.append(g.abs().amax().to(device))
            else:
                norms.append((g.abs() ** norm_type).sum().to(device))
        stacked = stack(norms)
        if norm_type == math.inf:
            total = stacked.amax()
        else:
            total = stacked.sum() ** (1.0 / norm_type)
        value = float(total.item())
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"the total norm of order {norm_type} of the gradients is {value}; set "
                "error_if_nonfinite=False to clip anyway"
            )
        coef = max_norm / (value + 1e-6)
        if coef < 1.0:
            for p in params:
                p.grad.mul_(coef)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    with no_grad():
        for p in _with_grads(parameters):
            p.grad.clamp_(-clip_value, clip_value)
