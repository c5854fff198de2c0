"""gradcheck and gradgradcheck: autograd's gradients against central differences, as torch's.

    plugrad.autograd.gradcheck(fn, (x, w))       # x, w: float64 tensors with requires_grad
    plugrad.autograd.gradgradcheck(fn, (x, w))   # the same for second derivatives

The full check compares every entry of the Jacobian (one backward per output element);
`fast_mode=True` compares one random projection of it, u^T J v, and is much cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when the gradients disagree."""


def _tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Any]:
    from .tensor import Tensor

    return [o for o in _tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _host(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy(), dtype=np.float64).reshape(-1)


def _differentiable(inputs: Sequence[Any]) -> list[int]:
    from .tensor import Tensor

    return [
        i
        for i, t in enumerate(inputs)
        if isinstance(t, Tensor) and t.requires_grad and t.dtype.is_floating
    ]


def _numerical(
    fn: Callable[..., Any], inputs: list[Any], positions: list[int], eps: float,
    project: Callable[[list[Any]], np.ndarray],
) -> list[np.ndarray]:  # fmt: skip
    """d project(fn(inputs)) / d input, by central differences: (input size, projected size)."""
    from .tensor import Tensor

    columns = []
    for i in positions:
        x = inputs[i]
        base = x.detach().numpy().astype(np.float64).copy()
        rows = []
        for j in range(base.size):
            values = []
            for sign in (1.0, -1.0):
                shifted = base.copy()
                shifted.reshape(-1)[j] += sign * eps
                args = list(inputs)
                # requires_grad stays on: fn may differentiate itself (gradgradcheck)
                args[i] = Tensor(shifted, dtype=x.dtype, device=x.device, requires_grad=True)
                values.append(project(_outputs(fn, args)))
            rows.append((values[0] - values[1]) / (2 * eps))
        columns.append(np.array(rows).reshape(base.size, -1))
    return columns


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """True when autograd's gradients of func at `inputs` match central differences.

    inputs: a tensor or a sequence; those with requires_grad=True are checked (use float64:
    float32 differences are too coarse). On a mismatch raises GradcheckError naming the input
    and the worst entry (or returns False with raise_exception=False)."""
    from . import grad as autograd_grad
    from .tensor import Tensor

    inputs = list(_tuple(inputs))
    positions = _differentiable(inputs)
    if not positions:
        raise ValueError("gradcheck needs at least one floating input with requires_grad=True")
    outputs = _outputs(func, inputs)
    sizes = [o.numel() for o in outputs]
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(n) for n in sizes] if fast_mode else None

    def project(outs: list[Any]) -> np.ndarray:
        flat = [_host(o) for o in outs]
        if weights is None:
            return np.concatenate(flat) if flat else np.zeros(0)
        return np.array([sum(float(f @ w) for f, w in zip(flat, weights))])

    numerical = _numerical(func, inputs, positions, eps, project)
    wanted = [inputs[i] for i in positions]

    def vjp(grad_outputs: list[np.ndarray]) -> list[np.ndarray]:
        """One row per input: d(sum_k out_k * grad_outputs_k) / d input."""
        outs, gos = [], []
        for o, g in zip(outputs, grad_outputs):
            if o.requires_grad:
                outs.append(o)
                gos.append(Tensor(g.reshape(o.shape), dtype=o.dtype, device=o.device))
        if not outs:
            return [np.zeros(t.numel()) for t in wanted]
        grads = autograd_grad(outs, wanted, gos, retain_graph=True, allow_unused=True)
        return [np.zeros(t.numel()) if g is None else _host(g) for t, g in zip(wanted, grads)]

    if weights is not None:
        analytical = [row.reshape(-1, 1) for row in vjp(weights)]
    else:
        total = sum(sizes)
        rows: list[list[np.ndarray]] = [[] for _ in wanted]
        for k in range(total):
            basis = np.zeros(total)
            basis[k] = 1.0
            pieces = np.split(basis, np.cumsum(sizes)[:-1]) if sizes else []
            for r, g in zip(rows, vjp(list(pieces))):
                r.append(g)
        analytical = [np.array(r).T.reshape(t.numel(), total) for r, t in zip(rows, wanted)]
    for i, got, want in zip(positions, analytical, numerical):
        if not np.allclose(got, want, atol=atol, rtol=rtol):
            worst = tuple(
                int(k) for k in np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
            )
            message = (
                f"gradcheck: the gradient of input {i} (shape {tuple(inputs[i].shape)}) differs "
                f"from central differences: at (input element, output element) {worst} "
                f"autograd gives {got[worst]:.6g}, finite differences {want[worst]:.6g}"
                + (" (one random projection, fast_mode)" if fast_mode else "")
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """gradcheck of the first derivatives: d/d(inputs, grad_outputs) of the vector-Jacobian
    product of func. grad_outputs default to random tensors that require grad."""
    from . import grad as autograd_grad
    from .tensor import Tensor

    inputs = list(_tuple(inputs))
    positions = _differentiable(inputs)
    outputs = [o for o in _outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [
            Tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device,
                   requires_grad=True)
            for o in outputs
        ]  # fmt: skip
    grad_outputs = list(_tuple(grad_outputs))
    count = len(inputs)

    def first_derivatives(*args: Any) -> tuple:
        xs, gos = list(args[:count]), list(args[count:])
        outs = [o for o in _outputs(func, xs) if o.requires_grad]
        wanted = [xs[i] for i in positions]
        grads = autograd_grad(outs, wanted, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivatives, (*inputs, *grad_outputs), eps=eps, atol=atol, rtol=rtol,
        raise_exception=raise_exception, fast_mode=fast_mode, seed=seed,
    )  # fmt: skip
