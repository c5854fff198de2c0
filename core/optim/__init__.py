"""plugrad.optim: SGD, Adam, AdamW, parameter groups, state_dict and `lr_scheduler`.

    opt = plugrad.optim.AdamW(model.parameters(), lr=1e-3)
    loss.backward(); opt.step(); opt.zero_grad()

A step runs under no_grad and updates parameters in place, so it never grows the graph. After
`model.to(device)`, the optimizer's state follows each parameter to its device at the next
step (or call `opt.to(device)`).
"""

from __future__ import annotations

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
