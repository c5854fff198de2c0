"""Optimizers without the oracle: no graph growth, no leaks over 500 steps, resuming from a
state_dict, swapping devices mid-training, and errors."""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn
import plugrad.optim as optim
from plugrad.optim.lr_scheduler import CosineAnnealingLR, StepLR

OPTIMIZERS = {
    "sgd_momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop_centered_momentum": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.05, lr_decay=0.01),
    "nadam": lambda p: optim.NAdam(p, lr=0.01, weight_decay=0.01, decoupled_weight_decay=True),
    "radam": lambda p: optim.RAdam(p, lr=0.01, weight_decay=1e-3),
    "adamax": lambda p: optim.Adamax(p, lr=0.01),
}


def tiny_model(device, dtype=plugrad.float32, seed=0):
    plugrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device, dtype)


def batch(device, dtype=plugrad.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = plugrad.tensor(rng.standard_normal((8, 4)), dtype=dtype, device=device)
    y = plugrad.tensor(rng.integers(0, 3, 8), device=device)
    return x, y


def train_step(model, opt, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_never_grows_the_graph(device, name):
    model = tiny_model(device)
    opt = OPTIMIZERS[name](model.parameters())
    x, y = batch(device)
    for _ in range(3):
        train_step(model, opt, x, y)
    for p in model.parameters():
        assert p.is_leaf and p.grad_fn is None and p.requires_grad
        assert p.grad.grad_fn is None and not p.grad.requires_grad
        for value in opt.state[p].values():
            if isinstance(value, plugrad.Tensor):
                assert value.grad_fn is None and not value.requires_grad


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), plugrad.Tensor))


@pytest.mark.parametrize("name", ["sgd_momentum", "adamw"])
def test_500_steps_keep_live_tensors_and_device_memory_flat(device, name):
    model = tiny_model(device)
    opt = OPTIMIZERS[name](model.parameters())
    sched = StepLR(opt, step_size=100, gamma=0.5)
    x, y = batch(device)
    for _ in range(20):  # warm up: optimizer state and gradients exist from here on
        loss = train_step(model, opt, x, y)
        sched.step()
    del loss
    tensors, allocated = _live_tensors(), plugrad.memory_allocated(device)
    for _ in range(480):
        loss = train_step(model, opt, x, y)
        sched.step()
    del loss
    assert _live_tensors() == tensors
    assert plugrad.memory_allocated(device) == allocated


def run_epochs(model, opt, sched, x, y, count=5):
    losses = []
    for _ in range(count):
        losses.append(train_step(model, opt, x, y).item())
        sched.step()
    return losses


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resuming_from_state_dicts_matches_an_uninterrupted_run(device, tmp_path, name):
    x, y = batch(device)
    model = tiny_model(device)
    opt = OPTIMIZERS[name](model.parameters())
    sched = CosineAnnealingLR(opt, T_max=10)
    for _ in range(5):
        train_step(model, opt, x, y)
        sched.step()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    plugrad.save(state, tmp_path / "ckpt.safetensors")
    straight = run_epochs(model, opt, sched, x, y)

    ckpt = plugrad.load(tmp_path / "ckpt.safetensors", device=device)
    model2 = tiny_model(device, seed=1)
    model2.load_state_dict(ckpt["model"])
    opt2 = OPTIMIZERS[name](model2.parameters())
    opt2.load_state_dict(ckpt["opt"])
    sched2 = CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(ckpt["sched"])
    resumed = run_epochs(model2, opt2, sched2, x, y)
    assert resumed == straight
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def _swap_pairs():
    names = plugrad.available_devices()
    return [pair for pair in itertools.permutations(names, 2)] or [None]


@pytest.mark.parametrize("pair", _swap_pairs(), ids=lambda p: "->".join(p) if p else "one-device")
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [plugrad.float32, plugrad.float64], ids=lambda d: d.name)
@pytest.mark.parametrize("explicit", [False, True], ids=["state-follows", "opt.to"])
def test_moving_model_and_optimizer_mid_training(pair, name, dtype, explicit, make_device):
    """After model.to(other) the optimizer's state follows each parameter lazily (or at once
    with opt.to(other)); the losses match a run that never moved."""
    if pair is None:  # a single installed device: a second NumPy device stands in
        pair = (plugrad.available_devices()[0], make_device("numpy_ref_copy").name)
    first, second = (plugrad.device(n) for n in pair)

    def run(move: bool) -> list[float]:
        model = tiny_model(first, dtype)
        opt = OPTIMIZERS[name](model.parameters())
        x, y = batch(first, dtype)
        losses = []
        for step in range(12):
            if move and step == 5:
                params = list(model.parameters())
                model.to(second)
                assert all(p is q for p, q in zip(model.parameters(), params))
                if explicit:
                    opt.to(second)
                x, y = x.to(second), y.to(second)
            losses.append(train_step(model, opt, x, y).item())
        if move:
            assert all(p.device is second for p in model.parameters())
            for state in opt.state.values():
                assert all(
                    v.device is second for v in state.values() if isinstance(v, plugrad.Tensor)
                )
        return losses

    tolerance = 1e-9 if dtype is plugrad.float64 else 1e-5
    np.testing.assert_allclose(run(True), run(False), rtol=tolerance, atol=tolerance)


def test_zero_grad_and_param_groups():
    a, b = nn.Parameter(plugrad.ones(2)), nn.Parameter(plugrad.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    (a.sum() + b.sum()).backward()
    opt.step()
    assert a.tolist() == pytest.approx([0.9, 0.9]) and b.tolist() == pytest.approx([0.5] * 3)
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None
    c = nn.Parameter(plugrad.ones(1))
    opt.add_param_group({"params": [c], "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.9
    assert "Parameter Group 1" in repr(opt)


def test_optimizer_errors():
    p = nn.Parameter(plugrad.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="required option 'lr'"):
        optim.SGD([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="learning rate"):
        optim.AdamW([p], lr=-1.0)
    opt = optim.Adam([p])
    other = optim.Adam([{"params": [p]}, {"params": [nn.Parameter(plugrad.ones(1))]}])
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt.load_state_dict(other.state_dict())


def lbfgs_closure(model, opt, x, y):
    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure


def test_lbfgs_resumes_from_a_checkpoint_and_follows_the_model_across_devices(
    device, tmp_path, make_device
):
    """L-BFGS keeps tensors in lists (its history): they survive plugrad.save/load and move
    with the model; both runs match an uninterrupted one exactly."""
    x, y = batch(device)
    model = tiny_model(device, plugrad.float64)
    x = x.double()
    opt = optim.LBFGS(model.parameters(), max_iter=3, history_size=2, line_search_fn="strong_wolfe")
    for _ in range(3):
        opt.step(lbfgs_closure(model, opt, x, y))
    state = opt.state[opt._params[0]]
    assert len(state["old_dirs"]) == 2 and all(isinstance(r, float) for r in state["ro"])
    plugrad.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ckpt")
    straight = [opt.step(lbfgs_closure(model, opt, x, y)).item() for _ in range(3)]

    ckpt = plugrad.load(tmp_path / "ckpt", device=device)
    model2 = tiny_model(device, plugrad.float64, seed=1)
    model2.load_state_dict(ckpt["model"])
    opt2 = optim.LBFGS(
        model2.parameters(), max_iter=3, history_size=2, line_search_fn="strong_wolfe"
    )
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.state[opt2._params[0]]["old_dirs"][0] is not state["old_dirs"][0]
    resumed = [opt2.step(lbfgs_closure(model2, opt2, x, y)).item() for _ in range(3)]
    assert resumed == straight

    other = make_device("numpy_ref_lbfgs")
    opt2.load_state_dict(ckpt["opt"])
    model2.load_state_dict(ckpt["model"])
    model2.to(other)
    moved = [opt2.step(lbfgs_closure(model2, opt2, x.to(other), y.to(other))).item()
             for _ in range(3)]  # fmt: skip
    np.testing.assert_allclose(moved, straight, rtol=1e-12)
    history = opt2.state[opt2._params[0]]["old_dirs"]
    assert all(t.device is other for t in history)


def test_lbfgs_errors():
    p = nn.Parameter(plugrad.ones(2))
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(plugrad.ones(1))]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS([p], history_size=0)
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS([p]).step()


def test_new_optimizer_errors():
    p = nn.Parameter(plugrad.ones(2))
    with pytest.raises(ValueError, match="alpha value"):
        optim.RMSprop([p], alpha=-0.1)
    with pytest.raises(ValueError, match="lr_decay value"):
        optim.Adagrad([p], lr_decay=-1.0)
    with pytest.raises(ValueError, match="momentum_decay value"):
        optim.NAdam([p], momentum_decay=-1.0)
    with pytest.raises(ValueError, match="betas"):
        optim.RAdam([p], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="differentiable=True"):
        optim.Adamax([p], differentiable=True)
    optim.RMSprop([p], foreach=True, capturable=True)  # torch's kernel choices: accepted


def test_adagrad_state_exists_before_the_first_step():
    a, b = nn.Parameter(plugrad.ones(2)), nn.Parameter(plugrad.ones(3))
    opt = optim.Adagrad([a, b], initial_accumulator_value=0.5)
    state = opt.state_dict()["state"]
    assert sorted(state) == [0, 1] and state[0]["step"] == 0
    assert state[1]["sum"].tolist() == [0.5, 0.5, 0.5]
