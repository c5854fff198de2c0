"""plugrad.nn: modules, layers, losses, `functional`, `init` and `utils`, with torch's names.

import plugrad.nn as nn
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
loss = nn.CrossEntropyLoss()(model(x), y)
"""

from __future__ import annotations

from . import functional, init, parallel, utils
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Residual, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, LayerNorm
from .parameter import Parameter
from .sync_batchnorm import SyncBatchNorm

__all__ = [
    "Conv2d",
    "GELU",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "L1Loss",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SyncBatchNorm",
    "Tanh",
    "functional",
    "init",
    "parallel",
    "utils",
]
