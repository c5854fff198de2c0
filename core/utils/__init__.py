"""Utilities, as torch.utils: `plugrad.utils.checkpoint` (rematerialization)."""

from . import checkpoint

__all__ = ["checkpoint"]
