"""Finite-difference gradient checks for the conformance kit: NumPy inputs in, float64
tensors on the backend under test, `plugrad.autograd.gradcheck` in its fast mode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


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
    from plugrad.autograd import GradcheckError

    tensors = [
        plugrad.tensor(np.asarray(x, dtype=np.float64), dtype=plugrad.float64, device=device,
                       requires_grad=True)
        for x in inputs
    ]  # fmt: skip
    try:
        plugrad.autograd.gradcheck(
            fn, tensors, eps=eps, atol=atol, rtol=rtol, fast_mode=True, seed=seed
        )
    except GradcheckError as error:
        raise AssertionError(str(error)) from None
