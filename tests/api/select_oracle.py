"""Run one computation in plugrad and in torch on identical inputs and compare: every output
(named results field by field, indices exactly) and, in float64, the gradient of
sum(output * v) for a random v with respect to every floating input.

Inputs are NumPy arrays: floating ones become tensors of the dtype under test (requiring grad
when gradients are compared), integer and bool ones int64 and bool tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-9, atol=1e-11)}


def _flatten(result) -> list:
    if isinstance(result, (tuple, list)):
        return [item for part in result for item in _flatten(part)]
    return [result]


def _inputs(arrays: Sequence[np.ndarray], dtype: str, device, grad: bool):
    ours, theirs = [], []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            host = a.astype(dtype)
            ours.append(plugrad.tensor(host, device=device, requires_grad=grad))
            theirs.append(torch.tensor(host, requires_grad=grad))
        else:
            host = a.astype(np.bool_ if a.dtype == np.bool_ else np.int64)
            ours.append(plugrad.tensor(host, device=device))
            theirs.append(torch.tensor(host))
    return ours, theirs


def assert_same(ours, theirs, dtype: str, what: str = "", scale: float = 1.0) -> None:
    """plugrad's result equals torch's: same structure, shapes, kinds; values within the
    dtype's tolerance (scaled), integer and bool outputs exactly."""
    mine, other = _flatten(ours), _flatten(theirs)
    assert len(mine) == len(other), f"{what}: {len(mine)} outputs, torch has {len(other)}"
    for i, (a, b) in enumerate(zip(mine, other)):
        got = a.detach().numpy() if isinstance(a, plugrad.Tensor) else np.asarray(a)
        want = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
        assert got.shape == want.shape, f"{what} output {i}: shape {got.shape} != {want.shape}"
        if want.dtype.kind == "f":
            assert got.dtype.kind == "f", f"{what} output {i}: {got.dtype} is not floating"
            tol = TOLERANCE[dtype if dtype in TOLERANCE else "float64"]
            np.testing.assert_allclose(
                got.astype(np.float64),
                want.astype(np.float64),
                equal_nan=True,
                rtol=tol["rtol"] * scale,
                atol=tol["atol"] * scale,
                err_msg=f"{what} output {i}",
            )
        else:
            assert got.dtype.kind == want.dtype.kind, f"{what} output {i}: {got.dtype} {want.dtype}"
            np.testing.assert_array_equal(got, want, err_msg=f"{what} output {i}")


def compare(
    ours: Callable,
    theirs: Callable,
    arrays: Sequence[np.ndarray],
    device,
    dtype: str = "float64",
    grad: bool | None = None,
    seed: int = 0,
    scale: float = 1.0,
    what: str = "",
) -> None:
    """ours(*plugrad tensors) against theirs(*torch tensors); gradients too in float64 (or
    when grad=True), through every floating output."""
    grad = dtype == "float64" if grad is None else grad
    mine, other = _inputs(arrays, dtype, device, grad)
    got, want = ours(*mine), theirs(*other)
    assert_same(got, want, dtype, what, scale)
    if not grad:
        return
    rng = np.random.default_rng(seed)
    total_ours, total_theirs = None, None
    for a, b in zip(_flatten(got), _flatten(want)):
        if isinstance(b, torch.Tensor) and b.dtype.is_floating_point and b.requires_grad:
            v = rng.uniform(0.5, 1.5, size=b.shape) * rng.choice([-1.0, 1.0], size=b.shape)
            term_ours = (a * plugrad.tensor(v, dtype=a.dtype, device=device)).sum()
            term_theirs = (b * torch.tensor(v, dtype=b.dtype)).sum()
            total_ours = term_ours if total_ours is None else total_ours + term_ours
            total_theirs = term_theirs if total_theirs is None else total_theirs + term_theirs
    if total_theirs is None:
        return
    total_ours.backward()
    total_theirs.backward()
    for i, (a, b) in enumerate(zip(mine, other)):
        if not b.requires_grad:
            continue
        want_grad = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
        got_grad = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        tol = TOLERANCE[dtype]
        np.testing.assert_allclose(
            got_grad,
            want_grad,
            equal_nan=True,
            rtol=tol["rtol"] * scale * 10,
            atol=tol["atol"] * scale * 10,
            err_msg=f"{what}: gradient of input {i}",
        )


def method(name: str, *args, **kwargs) -> Callable:
    """t -> t.name(*args, **kwargs), for either library."""
    return lambda t, *more: getattr(t, name)(*more, *args, **kwargs)


def function(lib, name: str, *args, **kwargs) -> Callable:
    """(*tensors) -> lib.name(*tensors, *args, **kwargs); lib is plugrad, torch or a
    namespace of either (torch.linalg)."""
    return lambda *tensors: getattr(lib, name)(*tensors, *args, **kwargs)
