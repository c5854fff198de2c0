"""plugrad.amp.GradScaler against torch.amp.GradScaler("cpu") on identical gradients: the
scale after every update (growth after growth_interval clean steps, backoff after an inf or
NaN), the unscaled gradients, the skipped steps and the parameters after each step, the
state_dict; then its refusals and the disabled pass-through."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
from plugrad.amp import GradScaler

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

DEVICE = "numpy_ref"
pytestmark = pytest.mark.skipif(
    DEVICE not in plugrad.available_devices(), reason="needs the numpy_ref backend"
)

# Per step: a gradient for each of two parameters, an inf or a NaN at some steps; and whether
# to call unscale_ by hand first (as before gradient clipping).
INF, NAN = math.inf, math.nan
STEPS = [
    ([[1.0, 2.0], [3.0]], False),
    ([[4.0, -2.0], [1.0]], True),
    ([[INF, 1.0], [1.0]], False),
    ([[1.0, 1.0], [2.0]], False),
    ([[0.5, 0.25], [NAN]], True),
    ([[8.0, 1.0], [1.0]], False),
    ([[1.0, -1.0], [3.0]], False),
    ([[2.0, 2.0], [2.0]], True),
    ([[1.0, 3.0], [-INF]], False),
    ([[6.0, 1.0], [5.0]], False),
    ([[1.0, 1.0], [1.0]], False),
    ([[3.0, 2.0], [1.0]], False),
]
INIT = [[0.5, -1.0], [2.0]]


def _trajectory(lib, make, scaler, optim_cls) -> list[tuple]:
    params = [make(v) for v in INIT]
    for p in params:
        p.requires_grad_()
    opt = optim_cls(params, lr=0.1)
    records = [("state", _state(scaler.state_dict()))]
    for step, (grads, by_hand) in enumerate(STEPS):
        scaled = scaler.scale(make([1.0]) * 1.0)  # the scale is set on the first scale()
        records.append(("scaled", float(scaled.sum().item())))
        for p, g in zip(params, grads):
            p.grad = make(g) * float(2**step)  # the gradients of a scaled loss, in float32
        if by_hand:
            scaler.unscale_(opt)
            records.append(("unscaled", [p.grad.tolist() for p in params]))
        out = scaler.step(opt)
        records.append(("stepped", out is None, [p.detach().tolist() for p in params]))
        scaler.update()
        records.append(("scale", scaler.get_scale(), _state(scaler.state_dict())))
    return records


def _state(state: dict) -> dict:
    return {k: (float(v) if k == "scale" else v) for k, v in state.items()}


def _ours(**kwargs):
    return _trajectory(
        plugrad,
        lambda v: plugrad.tensor(v, dtype="float32", device=DEVICE),
        GradScaler("cpu", **kwargs),
        plugrad.optim.SGD,
    )


def _theirs(**kwargs):
    return _trajectory(
        torch,
        lambda v: torch.tensor(v, dtype=torch.float32),
        torch.amp.GradScaler("cpu", **kwargs),
        torch.optim.SGD,
    )


def _same(ours, theirs) -> None:
    """Every record equal; the parameters within float32 rounding (the optimizers' own
    arithmetic orders differ by an ulp, which the scaler does not see)."""
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        message = f"record {i}: {a} != {b}"
        if a[0] == "stepped":
            assert a[:2] == b[:2], message
            for x, y in zip(a[2], b[2]):
                np.testing.assert_allclose(x, y, rtol=1e-6, err_msg=message)
        else:
            np.testing.assert_equal(a, b, err_msg=message)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"init_scale": 2.0**4, "growth_interval": 3},
        {"init_scale": 1000.0, "growth_factor": 1.5, "backoff_factor": 0.3, "growth_interval": 2},
        {"init_scale": 2.0**127, "growth_interval": 1},  # growth that would overflow is skipped
        {"enabled": False},
    ],
    ids=["powers-of-two", "float32-rounding", "no-overflowing-growth", "disabled"],
)
def test_the_scale_steps_and_skips_follow_torch(kwargs):
    _same(_ours(**kwargs), _theirs(**kwargs))


def test_the_scale_sequence_shows_backoff_and_growth():
    scales = [r[1] for r in _ours(init_scale=16.0, growth_interval=3) if r[0] == "scale"]
    assert scales[:4] == [16.0, 16.0, 8.0, 8.0]  # step 3 overflowed: halved
    assert 16.0 in scales  # and three clean steps later it doubled


def test_a_state_dict_moves_between_torch_and_plugrad():
    theirs = torch.amp.GradScaler("cpu", init_scale=64.0, growth_interval=5)
    theirs.scale(torch.ones(1))
    ours = GradScaler("cpu")
    ours.load_state_dict(theirs.state_dict())
    assert _state(ours.state_dict()) == _state(theirs.state_dict())
    back = torch.amp.GradScaler("cpu")
    back.load_state_dict(ours.state_dict())
    assert _state(back.state_dict()) == _state(theirs.state_dict())


def test_the_scaled_loss_gives_scaled_gradients_and_step_restores_them():
    w = plugrad.tensor([1.0, -2.0], device=DEVICE, requires_grad=True)
    opt = plugrad.optim.SGD([w], lr=1.0)
    scaler = GradScaler("cpu", init_scale=1024.0)
    scaler.scale((w * w).sum()).backward()
    assert w.grad.tolist() == [2048.0, -4096.0]
    scaler.step(opt)
    assert w.detach().tolist() == [-1.0, 2.0]  # stepped on the unscaled gradient (2, -4)


def _fresh():
    w = plugrad.tensor([1.0], device=DEVICE, requires_grad=True)
    opt = plugrad.optim.SGD([w], lr=1.0)
    scaler = GradScaler("cpu")
    scaler.scale((w * 2).sum()).backward()
    return w, opt, scaler


def test_misuse_is_refused_with_torchs_messages():
    w, opt, scaler = _fresh()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="No inf checks were recorded"):
        scaler.update()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: None)
    with pytest.raises(RuntimeError, match="before any scale"):
        GradScaler("cpu").unscale_(opt)
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        GradScaler("cpu").load_state_dict(GradScaler("cpu", enabled=False).state_dict())


def test_float16_gradients_are_refused_by_unscale():
    w = plugrad.tensor([1.0], dtype="float16", device=DEVICE, requires_grad=True)
    opt = plugrad.optim.SGD([w], lr=1.0)
    scaler = GradScaler("cpu")
    scaler.scale((w * 2).sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.step(opt)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="growth factor must be > 1.0"):
        GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff factor must lie in"):
        GradScaler("cpu", backoff_factor=1.5)
    with pytest.raises(ValueError, match="growth interval must be a positive integer"):
        GradScaler("cpu", growth_interval=0)
    with pytest.raises(ValueError, match="init_scale must be a positive number"):
        GradScaler("cpu", init_scale=-1.0)
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        GradScaler("tpu")
    with pytest.raises(TypeError, match="new_scale should be a float"):
        _fresh()[2].update("big")


def test_new_scale_sets_the_scale():
    w, opt, scaler = _fresh()
    scaler.step(opt)
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0
    scaler.scale((w * 2).sum()).backward()
    scaler.step(opt)
    scaler.update(plugrad.tensor([4.0], device=DEVICE))
    assert scaler.get_scale() == 4.0


def test_the_default_device_is_the_host_and_a_foreign_device_is_refused(make_device):
    scaler = GradScaler()
    assert repr(scaler).startswith("GradScaler('cpu'")  # the default device is a host backend
    with pytest.raises(ValueError, match="cannot scale a tensor on amp_elsewhere"):
        GradScaler(DEVICE).scale(plugrad.ones(1, device=make_device("amp_elsewhere")))
