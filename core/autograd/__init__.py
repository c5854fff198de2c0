"""Autograd: Tensor, the graph, backward, grad, no_grad and custom Functions."""

from __future__ import annotations

from collections.abc import Sequence

from ..ndarray import NDArray
from . import views
from .engine import run_backward
from .function import Function, FunctionCtx
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .hooks import RemovableHandle
from .tensor import Tensor, _coerce_grad


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """d(outputs)/d(inputs) without touching any .grad; create_graph=True for higher order."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    else:
        grad_outs = list(grad_outputs)
    if len(grad_outs) != len(outs):
        raise ValueError(f"{len(grad_outs)} grad_outputs given for {len(outs)} outputs")
    roots, root_grads = [], []
    for out in outs:
        if out._base is not None:
            views.refresh(out)
    for out, g in zip(outs, grad_outs):
        if not out.requires_grad:
            raise RuntimeError("an output does not require grad: it does not depend on the inputs")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"grad_outputs is needed for a non-scalar output of shape {out.shape}"
                )
            g = Tensor._wrap(NDArray.full(out.shape, 1.0, out.dtype, out.device))
        roots.append(out)
        root_grads.append(_coerce_grad(g, out))
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError("an input does not require grad; set requires_grad=True")
    keep = create_graph if retain_graph is None else retain_graph
    results = run_backward(roots, root_grads, keep, create_graph, inputs=ins) or []
    for r in results:
        if r is None and not allow_unused:
            raise RuntimeError(
                "an input was not used in the graph of the outputs; pass allow_unused=True"
            )
    return tuple(results)


__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "RemovableHandle",
    "Tensor",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]
