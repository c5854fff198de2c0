"""How losses reduce: the 'mean' / 'sum' / 'none' argument every loss shares."""

from __future__ import annotations

import warnings

from plugrad.autograd.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def warn_if_shapes_differ(input: Tensor, target: Tensor, what: str) -> None:  # noqa: A002
    """torch warns, rather than fails, when a regression target broadcasts against the input."""
    if input.shape != target.shape:
        warnings.warn(
            f"{what}: target shape {target.shape} differs from input shape {input.shape}; "
            "they will be broadcast, which is rarely intended",
            stacklevel=3,
        )
