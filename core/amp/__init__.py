"""plugrad.amp: automatic mixed precision, as torch.amp.

`autocast` runs matrix products and convolutions in float16 or bfloat16 and the
precision-sensitive ops in float32 (`policy` lists which); `GradScaler` scales float16 losses
so small gradients do not flush to zero, and skips the steps whose gradients overflowed.
"""

from __future__ import annotations

from . import policy
from .autocast import autocast, get_autocast_dtype, is_autocast_enabled
from .casting import autocast_op
from .grad_scaler import GradScaler

__all__ = [
    "GradScaler",
    "autocast",
    "autocast_op",
    "get_autocast_dtype",
    "is_autocast_enabled",
    "policy",
]
