"""Optimizers, schedulers and clip_grad_norm_ against torch: a 20-step training trajectory on
identical weights and data, on every installed device, float64 within 1e-6, float32 1e-4."""

from __future__ import annotations

import math

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
import plugrad.optim as optim
from plugrad.optim import lr_scheduler

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


@pytest.fixture(params=[plugrad.float32, plugrad.float64], ids=lambda d: d.name)
def dtype(request):
    return request.param


def tol(dtype) -> float:
    return 1e-6 if dtype is plugrad.float64 else 1e-4


def to_torch(t):
    return torch.from_numpy(np.array(t.detach().numpy(), copy=True))


def assert_close(ours, theirs, dtype, what=""):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy(), dtype=np.float64),
                               theirs.detach().double().numpy(), rtol=tol(dtype), atol=tol(dtype),
                               err_msg=what)  # fmt: skip


def models(device, dtype):
    plugrad.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(device, dtype)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    theirs = theirs.to(torch.float64 if dtype is plugrad.float64 else torch.float32)
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    return ours, theirs


# (optimizer builder, scheduler builder or None); each is called with (model, namespace)
CONFIGS = {
    "sgd": (lambda m, o: o.SGD(m.parameters(), lr=0.1), None),
    "sgd_momentum_steplr": (
        lambda m, o: o.SGD(m.parameters(), lr=0.1, momentum=0.9),
        lambda opt, s: s.StepLR(opt, step_size=5, gamma=0.5),
    ),
    "sgd_dampening_weight_decay": (
        lambda m, o: o.SGD(m.parameters(), lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
        None,
    ),
    "sgd_nesterov": (
        lambda m, o: o.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        None,
    ),
    "sgd_maximize": (
        lambda m, o: o.SGD(m.parameters(), lr=0.01, momentum=0.5, maximize=True),
        None,
    ),
    "sgd_param_groups": (
        lambda m, o: o.SGD(
            [
                {"params": m[0].parameters(), "lr": 0.02},
                {"params": m[2].parameters(), "momentum": 0.5},
            ],
            lr=0.1,
            momentum=0.9,
        ),
        None,
    ),
    "adam_linearlr": (
        lambda m, o: o.Adam(m.parameters(), lr=0.02),
        lambda opt, s: s.LinearLR(opt, start_factor=0.1, total_iters=8),
    ),
    "adam_weight_decay_amsgrad": (
        lambda m, o: o.Adam(
            m.parameters(), lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True
        ),
        None,
    ),
    "adamw_cosine": (
        lambda m, o: o.AdamW(m.parameters(), lr=0.01, weight_decay=0.1),
        lambda opt, s: s.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3),
    ),
    "adamw_amsgrad_groups": (
        lambda m, o: o.AdamW(
            [
                {"params": m[0].parameters()},
                {"params": m[2].parameters(), "lr": 0.003, "weight_decay": 0.0},
            ],
            lr=0.01,
            amsgrad=True,
            eps=1e-6,
        ),
        None,
    ),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_twenty_step_trajectory_matches_torch(device, dtype, name):
    make_opt, make_sched = CONFIGS[name]
    ours, theirs = models(device, dtype)
    rng = np.random.default_rng(1)
    x_host, y_host = rng.standard_normal((16, 5)), rng.standard_normal((16, 3))
    x, y = (
        plugrad.tensor(x_host, dtype=dtype, device=device),
        plugrad.tensor(y_host, dtype=dtype, device=device),
    )
    tx, ty = to_torch(x), to_torch(y)
    opt, topt = make_opt(ours, optim), make_opt(theirs, torch.optim)
    sched = make_sched(opt, lr_scheduler) if make_sched else None
    tsched = make_sched(topt, torch.optim.lr_scheduler) if make_sched else None
    theirs_params = dict(theirs.named_parameters())
    for step in range(20):
        opt.zero_grad()
        topt.zero_grad()
        loss = nn.functional.mse_loss(ours(x), y)
        tloss = torch.nn.functional.mse_loss(theirs(tx), ty)
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        if sched:
            sched.step()
            tsched.step()
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        assert_close(loss, tloss, dtype, f"loss at step {step}")
        for pname, p in ours.named_parameters():
            assert_close(p, theirs_params[pname], dtype, f"{pname} after step {step}")


SCHEDULERS = {
    "step": lambda opt, s: [s.StepLR(opt, step_size=3, gamma=0.7)],
    "cosine": lambda opt, s: [s.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)],
    "linear_warmup": lambda opt, s: [
        s.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=6)
    ],
    "linear_decay": lambda opt, s: [
        s.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=9)
    ],
    "warmup_then_cosine_chained": lambda opt, s: [
        s.LinearLR(opt, start_factor=0.1, total_iters=5),
        s.CosineAnnealingLR(opt, T_max=20),
    ],
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_learning_rates_match_torch(name):
    ours_p, theirs_p = plugrad.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [ours_p]}], lr=0.5)
    topt = torch.optim.SGD([{"params": [theirs_p]}], lr=0.5)
    scheds = SCHEDULERS[name](opt, lr_scheduler)
    tscheds = SCHEDULERS[name](topt, torch.optim.lr_scheduler)
    assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    for _ in range(30):  # beyond T_max: the cosine comes back up, as torch's does
        opt.step()
        topt.step()
        for s, ts in zip(scheds, tscheds):
            s.step()
            ts.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(
            topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15
        )


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(device, dtype, norm_type, max_norm):
    ours, theirs = models(device, dtype)
    x = plugrad.randn(4, 5, dtype=dtype, device=device)
    ours(x).sum().backward()
    theirs(to_torch(x)).sum().backward()
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    assert_close(total, ttotal, dtype)
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[pname].grad, dtype)
    nn.utils.clip_grad_value_(ours.parameters(), 0.01)
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.01)
    for pname, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[pname].grad, dtype)
