"""Finite-difference gradient checks for any function of plugrad Tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def numerical_grads(
    fn: Callable[..., object], inputs: Sequence[np.ndarray], weights: np.ndarray, eps: float
) -> list[np.ndarray]:
    """Central differences of sum(fn(*inputs) * weights) with respect to each input."""
    grads = []
    for i, x in enumerate(inputs):
        grad = np.zeros_like(x)
        flat = grad.reshape(-1)
        for j in range(x.size):
            values = []
            for sign in (1.0, -1.0):
                shifted = [a.copy() for a in inputs]
                shifted[i].reshape(-1)[j] += sign * eps
                values.append(float((np.asarray(fn(*shifted)) * weights).sum()))
            flat[j] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad)
    return grads


def gradcheck(
    fn: Callable[..., object],
    *inputs: np.ndarray,
    device: object = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> None:
    """Check plugrad's backward of `fn` against central differences in float64.

    `fn` takes and returns plugrad Tensors; `inputs` are NumPy arrays (made float64). Raises
    AssertionError naming the input and the largest mismatch when they disagree.
    """
    import plugrad

    arrays = [np.asarray(x, dtype=np.float64) for x in inputs]
    tensors = [plugrad.tensor(a, dtype=plugrad.float64, device=device, requires_grad=True)
               for a in arrays]  # fmt: skip
    out = fn(*tensors)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(out.shape)
    (out * plugrad.tensor(weights, dtype=plugrad.float64, device=out.device)).sum().backward()

    def host_fn(*xs: np.ndarray) -> np.ndarray:
        # requires_grad stays on so that `fn` may itself differentiate (second-order checks)
        ts = [plugrad.tensor(x, dtype=plugrad.float64, device=device, requires_grad=True)
              for x in xs]  # fmt: skip
        return np.asarray(fn(*ts).detach().numpy(), dtype=np.float64)

    expected = numerical_grads(host_fn, arrays, weights, eps)
    for k, (t, want) in enumerate(zip(tensors, expected)):
        got = np.zeros_like(want) if t.grad is None else t.grad.numpy()
        if not np.allclose(got, want, atol=atol, rtol=rtol):
            worst = np.max(np.abs(got - want))
            raise AssertionError(
                f"gradient of input {k} (shape {want.shape}) differs from finite differences "
                f"by up to {worst:.3g}\nanalytic:\n{got}\nnumerical:\n{want}"
            )
