"""Schedulers without the oracle: state_dict round trips through a checkpoint file resume
the same learning rates (and momenta), and bad arguments raise errors that say why."""

from __future__ import annotations

import pytest

import plugrad
import plugrad.optim as optim
from plugrad.optim import lr_scheduler as s


class Warmup:
    """A callable object: LambdaLR saves its attributes (a plain function can't be saved)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.epochs)


SCHEDULES = {
    "lambda_object": lambda opt: s.LambdaLR(opt, Warmup(5)),
    "multistep": lambda opt: s.MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.5),
    "exponential": lambda opt: s.ExponentialLR(opt, gamma=0.9),
    "onecycle": lambda opt: s.OneCycleLR(opt, max_lr=1.0, total_steps=20, three_phase=True),
    "warm_restarts": lambda opt: s.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2),
    "plateau": lambda opt: s.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5),
    "sequential": lambda opt: s.SequentialLR(
        opt, [s.LinearLR(opt, 0.1, total_iters=3), s.MultiStepLR(opt, [2, 4])], milestones=[8]
    ),
    "chained": lambda opt: s.ChainedScheduler([s.StepLR(opt, 3), s.ExponentialLR(opt, 0.9)]),
}
METRICS = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.2, 0.3, 0.4, 0.5, 0.6]


def sgd():
    return optim.SGD([plugrad.zeros(2, requires_grad=True)], lr=0.5, momentum=0.9)


def advance(sched, opt, epochs):
    """(lr, momentum) after each of `epochs` steps (the metric comes from METRICS)."""
    seen = []
    for _ in range(epochs):
        if isinstance(sched, s.ReduceLROnPlateau):
            sched.step(METRICS[sched.last_epoch])
        else:
            sched.step()
        seen.append((sched.get_last_lr()[0], opt.param_groups[0]["momentum"]))
    return seen


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_round_trip_through_a_checkpoint_resumes_the_schedule(tmp_path, name):
    opt = sgd()
    sched = SCHEDULES[name](opt)
    advance(sched, opt, 6)
    plugrad.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt")
    straight = advance(sched, opt, 10)

    ckpt = plugrad.load(tmp_path / "ckpt")
    opt2 = sgd()
    sched2 = SCHEDULES[name](opt2)  # build the scheduler first: it writes the groups' lr
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    assert advance(sched2, opt2, 10) == straight


def test_lambda_lr_saves_callable_objects_but_not_functions():
    opt = optim.SGD(
        [{"params": [plugrad.zeros(1, requires_grad=True)]},
         {"params": [plugrad.zeros(1, requires_grad=True)]}], lr=1.0,
    )  # fmt: skip
    sched = s.LambdaLR(opt, [Warmup(4), lambda epoch: 0.5])
    assert sched.state_dict()["lr_lambdas"] == [{"epochs": 4}, None]
    state = sched.state_dict()
    state["lr_lambdas"][0]["epochs"] = 2
    sched.load_state_dict(state)
    sched.step()
    assert sched.get_last_lr() == [1.0, 0.5]


def test_onecycle_cycles_adam_beta1():
    opt = optim.Adam([plugrad.zeros(2, requires_grad=True)], betas=(0.9, 0.99))
    sched = s.OneCycleLR(opt, max_lr=0.1, total_steps=10, base_momentum=0.8, max_momentum=0.9)
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    for _ in range(2):
        sched.step()
    beta1, beta2 = opt.param_groups[0]["betas"]
    assert 0.8 <= beta1 < 0.9 and beta2 == 0.99


def test_scheduler_errors():
    opt = sgd()
    with pytest.raises(ValueError, match="total_steps"):
        s.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="tried to step 4 times"):
        sched = s.OneCycleLR(opt, max_lr=1.0, total_steps=3)
        for _ in range(4):
            sched.step()
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        s.OneCycleLR(optim.Adagrad([plugrad.zeros(1, requires_grad=True)]), 1.0, total_steps=5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        s.OneCycleLR(sgd(), max_lr=1.0, total_steps=5, anneal_strategy="step")
    with pytest.raises(ValueError, match="one value per parameter group"):
        s.OneCycleLR(sgd(), max_lr=[1.0, 2.0], total_steps=5)
    with pytest.raises(ValueError, match="T_0"):
        s.CosineAnnealingWarmRestarts(sgd(), T_0=0)
    with pytest.raises(ValueError, match="T_mult"):
        s.CosineAnnealingWarmRestarts(sgd(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        s.ReduceLROnPlateau(sgd(), factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        s.ReduceLROnPlateau(sgd(), mode="lowest")
    with pytest.raises(ValueError, match="min_lrs"):
        s.ReduceLROnPlateau(sgd(), min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="not a plugrad Optimizer"):
        s.ExponentialLR(object(), gamma=0.5)
    with pytest.raises(ValueError, match="lr_lambdas"):
        s.LambdaLR(sgd(), [lambda e: 1.0, lambda e: 2.0])
    with pytest.raises(TypeError, match="integers"):
        s.MultiStepLR(sgd(), milestones=[1.5])
    opt = sgd()
    with pytest.raises(ValueError, match="one milestone fewer"):
        s.SequentialLR(opt, [s.ExponentialLR(opt, 0.9), s.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        s.ChainedScheduler([s.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="same optimizer"):
        s.ChainedScheduler([s.StepLR(opt, 2), s.StepLR(sgd(), 2)])
