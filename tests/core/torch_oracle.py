"""Running a plugrad function and its torch counterpart on the same inputs: values, and the
gradients of a random weighting of every output, compared (float64 closely, float32 within
float32's precision). Imported by the shape, einsum and linalg tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import plugrad

TOLERANCE = {"float64": (1e-7, 1e-9), "float32": (2e-4, 2e-5)}


def as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def compare(
    torch,
    device,
    ours: Callable,
    theirs: Callable,
    arrays: Sequence[np.ndarray],
    dtype: str = "float64",
    grad: bool = True,
    seed: int = 0,
    tolerance: tuple[float, float] | None = None,
) -> tuple:
    """ours(*plugrad tensors) against theirs(*torch tensors); returns plugrad's outputs.

    Integer arrays stay integers (and take no gradient); floating ones become `dtype`."""
    rtol, atol = tolerance or TOLERANCE[dtype]
    floating = [np.asarray(a).dtype.kind == "f" for a in arrays]
    xs = [
        plugrad.tensor(np.asarray(a), dtype=dtype if f else None, device=device,
                       requires_grad=grad and f)
        for a, f in zip(arrays, floating)
    ]  # fmt: skip
    ts = [
        torch.tensor(np.asarray(a), dtype=getattr(torch, dtype) if f else None,
                     requires_grad=grad and f)
        for a, f in zip(arrays, floating)
    ]  # fmt: skip
    outs, touts = as_tuple(ours(*xs)), as_tuple(theirs(*ts))
    assert len(outs) == len(touts)
    rng = np.random.default_rng(seed)
    loss, tloss = None, None
    for out, tout in zip(outs, touts):
        assert tuple(out.shape) == tuple(tout.shape), (out.shape, tout.shape)
        expected = tout.detach().numpy()
        np.testing.assert_allclose(out.detach().numpy(), expected, rtol=rtol, atol=atol)
        if grad and out.requires_grad and out.dtype.is_floating and tout.requires_grad:
            weight = rng.standard_normal(out.shape)
            term = (out * plugrad.tensor(weight, dtype=out.dtype, device=device)).sum()
            tterm = (tout * torch.tensor(weight, dtype=tout.dtype)).sum()
            loss = term if loss is None else loss + term
            tloss = tterm if tloss is None else tloss + tterm
    if loss is not None:
        loss.backward()
        tloss.backward()
        for x, t in zip(xs, ts):
            if t.grad is None:
                assert x.grad is None or not np.any(x.grad.numpy())
                continue
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    return outs


def random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)
