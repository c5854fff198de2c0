"""Checks of optimizer hyper-parameters, shared by every optimizer, with torch's messages."""

from __future__ import annotations

from collections.abc import Sequence


def check_non_negative(**values: float) -> None:
    """Raise ValueError naming the first value that is negative (or NaN)."""
    for name, value in values.items():
        if not value >= 0.0:
            label = "learning rate" if name == "lr" else f"{name} value"
            raise ValueError(f"invalid {label}: {value} (must be >= 0)")


def check_betas(betas: Sequence[float]) -> tuple[float, float]:
    """Two coefficients in [0, 1), as a tuple."""
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"invalid betas {tuple(betas)}: two values in [0, 1) are needed")
    return float(betas[0]), float(betas[1])


def check_not_differentiable(differentiable: bool) -> None:
    """torch's differentiable=True lets gradients flow through a step; plugrad's steps run
    under no_grad, so it is refused rather than silently ignored."""
    if differentiable:
        raise ValueError(
            "differentiable=True is not supported: plugrad's optimizer steps run under no_grad "
            "and update parameters in place; write the update with tensor ops to differentiate it"
        )
