"""plugrad.optim: the optimizers of torch.optim, parameter groups, state_dict and
`lr_scheduler`.

    opt = plugrad.optim.AdamW(model.parameters(), lr=1e-3)
    loss.backward(); opt.step(); opt.zero_grad()

SGD, Adam, AdamW, NAdam, RAdam, Adamax, RMSprop and Adagrad take torch's arguments;
`foreach`, `fused` and `capturable` are accepted and change nothing (they choose kernels in
torch), and `differentiable=True` is refused. LBFGS needs `step(closure)`.

A step runs under no_grad and updates parameters in place, so it never grows the graph. After
`model.to(device)`, the optimizer's state follows each parameter to its device at the next
step (or call `opt.to(device)`).
"""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adam_variants import Adamax, NAdam, RAdam
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "LBFGS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "lr_scheduler",
]
