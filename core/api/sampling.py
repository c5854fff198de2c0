"""Random draws on tensors: in-place uniform_, normal_, bernoulli_, exponential_, and
normal (tensor mean and std) and multinomial. Every draw comes from the stream's kernels
(plugrad.random_stream), so a seed gives the same numbers on every backend."""

from __future__ import annotations

import math
from typing import Any

from .. import dtypes as dt
from ..autograd.tensor import Tensor
from ..factory import bernoulli, random_array
from ..ndarray import NDArray
from ..random import Generator
from ..shapes import broadcast_shapes
from .registry import export
from .select import searchsorted


def _floating(fn: str, x: Tensor) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{fn}() fills floating tensors, got {x.dtype.name}")


def _fill(self: Tensor, drawn: NDArray) -> Tensor:
    """Write a draw into self through copy_ (so in-place rules hold: a leaf that requires grad
    needs no_grad, as in torch)."""
    return self.copy_(Tensor._wrap(drawn))


@export(function=False)
def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Fill with uniform draws in [from_, to)."""
    _floating("uniform_", self)
    if not from_ <= to:
        raise ValueError(f"uniform_(): expects from_ <= to, got {from_} and {to}")
    drawn = random_array("uniform", self.shape, self.dtype, self.device, generator,
                         float(from_), float(to))  # fmt: skip
    return _fill(self, drawn)


@export(function=False)
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Fill with normal draws of the given mean and standard deviation."""
    _floating("normal_", self)
    if not std >= 0:
        raise ValueError(f"normal_(): expects std >= 0, got {std}")
    drawn = random_array("normal", self.shape, self.dtype, self.device, generator,
                         float(mean), float(std))  # fmt: skip
    return _fill(self, drawn)


@export(function=False)
def exponential_(self: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:  # fmt: skip
    """Fill with exponential draws of rate lambd: -log(1 - u) / lambd."""
    _floating("exponential_", self)
    if not lambd > 0:
        raise ValueError(f"exponential_(): expects lambd > 0, got {lambd}")
    u = random_array("uniform", self.shape, dt.float64, self.device, generator, 0.0, 1.0)
    drawn = u.scalar_op("sub", 1.0, reflected=True).unary("log").scalar_op("div", -float(lambd))
    return _fill(self, drawn.astype(self.dtype))


@export(function=False)
def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 0/1 draws, 1 with probability p (a number or a tensor broadcast to self)."""
    if isinstance(p, Tensor):
        drawn = bernoulli(p.broadcast_to(self.shape).astype(dt.float64), generator=generator)
        return _fill(self, drawn.array.astype(self.dtype))
    drawn = bernoulli(float(p), self.shape, dtype=self.dtype, device=self.device,
                      generator=generator)  # fmt: skip
    return _fill(self, drawn.array)


@export(method=False)
def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """mean + std * z, z standard normal: mean and std tensors (broadcast) or numbers with
    `size`. Differentiable in mean and std, as torch's."""
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if tensors:
        shape = broadcast_shapes(*(t.shape for t in tensors))
        like = tensors[0]
        kind = dt.promote(*(t.dtype for t in tensors)) if len(tensors) == 2 else like.dtype
        where = like.device
    else:
        if size is None:
            raise TypeError("normal(): with a number mean and std, give size= as well")
        shape = tuple(size) if not isinstance(size, int) else (size,)
        kind = dt.float32 if dtype is None else dt.as_dtype(dtype)
        where = device
    if not kind.is_floating:
        raise TypeError(f"normal(): mean and std must be floating, got {kind.name}")
    z = Tensor._wrap(random_array("normal", shape, kind, where, generator, 0.0, 1.0))
    return mean + std * z


@export
def multinomial(
    input: Tensor,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """int64 (rows, num_samples) (or (num_samples,) for 1-D input): category indices drawn
    with probabilities proportional to each row's non-negative weights. With replacement by
    the inverse CDF; without, as the num_samples largest keys log(u) / w (Efraimidis-Spirakis),
    which is drawing one at a time without putting back."""
    if input.ndim not in (1, 2) or not input.dtype.is_floating:
        raise ValueError(
            f"multinomial(): input must be a 1-D or 2-D floating tensor of weights, got "
            f"{input.ndim}-D {input.dtype.name}"
        )
    weights = input.detach().reshape(-1, input.shape[-1]).astype(dt.float64)
    rows, n = weights.shape
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"multinomial(): num_samples must be a positive int, got {num_samples}")
    if n == 0 or bool((weights < 0).any()) or not bool(weights.isfinite().all()):
        raise ValueError("multinomial(): weights must be finite, non-negative, at least one")
    positive = (weights > 0).sum(1)
    if bool((positive == 0).any()):
        raise ValueError("multinomial(): every row needs a positive weight (sum > 0)")
    if not replacement and int(positive.min().item()) < num_samples:
        raise ValueError(
            f"multinomial(): cannot draw {num_samples} samples without replacement from a row "
            f"with {int(positive.min().item())} non-zero weights"
        )
    u = Tensor._wrap(random_array("uniform", (rows, num_samples if replacement else n),
                                  dt.float64, input.device, generator, 0.0, 1.0))  # fmt: skip
    if replacement:
        cdf = weights.cumsum(1)
        targets = u * cdf[:, -1:]
        picks = searchsorted(cdf, targets, right=True).clamp(max=n - 1)
    else:
        keys = u.log() / weights  # -inf where the weight is 0: never drawn
        keys = keys.nan_to_num(nan=-math.inf)
        picks = keys.topk(num_samples, dim=1).indices
    return picks.reshape(num_samples) if input.ndim == 1 else picks
