"""Shape: repeating, rolling, moving and splitting dimensions, as torch names them.

Each is composed from the differentiable views and copies of the core (reshape, expand,
permute, slicing, cat), so gradients need nothing of their own. Views stay views where torch's
are: unbind, movedim, swapaxes, narrow, unflatten (where strides allow) and view_as.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import arguments
from .. import dtypes as dt
from ..autograd.tensor import Tensor, cat
from ..shapes import normalize_axis
from .registry import export


def _along(axis: int, item: Any) -> tuple:
    """An index key that applies `item` to `axis` and keeps the other dimensions."""
    return (slice(None),) * axis + (item,)


def _int_list(fn: str, name: str, value: Any) -> list[int]:
    """An int or a sequence of ints, as a list."""
    single = arguments.as_int(value)
    if single is not None:
        return [single]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{fn}(): {name} must be an int or a sequence of ints, got {value!r}")
    return [arguments.integer(fn, name, v) for v in value]


@export(function=False)
def repeat(input: Tensor, *repeats: Any) -> Tensor:
    """input tiled `repeats[i]` times along dimension i: (2, 3).repeat(2, 1, 2) -> (2, 4, 6).
    Extra leading sizes add dimensions, as in torch."""
    reps = arguments.sizes("repeat", repeats, "repeats")
    if len(reps) < input.ndim:
        raise ValueError(
            f"repeat(): {len(reps)} repeats {reps} were given for a tensor of {input.ndim} "
            f"dimensions {input.shape}; give at least one per dimension"
        )
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    # (d0, d1) -> (1, d0, 1, d1) -> (r0, d0, r1, d1) -> (r0 * d0, r1 * d1): copy i of the
    # tensor is the outer index, so element j of a dim lands at j, d + j, 2d + j, ...
    spread = input.reshape(tuple(v for d in shape for v in (1, d)))
    tiled = spread.expand(tuple(v for r, d in zip(reps, shape) for v in (r, d)))
    return tiled.reshape(tuple(r * d for r, d in zip(reps, shape)))


@export
def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """torch.tile: repeat, with missing leading repeats taken as 1."""
    reps = arguments.sizes("tile", (dims,), "dims")
    return input.repeat((1,) * (input.ndim - len(reps)) + reps)


@export
def repeat_interleave(
    input: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Each element (each slice along `dim`) repeated `repeats` times in place:
    [1, 2].repeat_interleave(2) -> [1, 1, 2, 2]. `repeats` is an int or an int64 tensor of
    one count per slice; without `dim` the input is flattened first. With no `repeats`,
    `plugrad.repeat_interleave(counts)` repeats 0, 1, 2, ... by counts."""
    if repeats is None:
        counts = _counts(input, None)
        index = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        return Tensor(index, device=input.device)
    source = input.reshape(-1) if dim is None else input
    axis = 0 if dim is None else normalize_axis(dim, max(source.ndim, 1))
    if source.ndim == 0:
        source = source.reshape(1)
    n = source.shape[axis]
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = _counts(repeats, n)
        total = int(counts.sum())
        _check_output_size(output_size, total)
        index = Tensor(np.repeat(np.arange(n, dtype=np.int64), counts), device=input.device)
        return source[_along(axis, index)]
    count = arguments.integer("repeat_interleave", "repeats", repeats, minimum=0)
    _check_output_size(output_size, n * count)
    shape = source.shape
    spread = source.unsqueeze(axis + 1).expand(shape[: axis + 1] + (count,) + shape[axis + 1 :])
    return spread.reshape(shape[:axis] + (n * count,) + shape[axis + 1 :])


def _counts(repeats: Tensor, n: int | None) -> np.ndarray:
    if repeats.dtype.is_floating or repeats.dtype is dt.bool_ or repeats.ndim > 1:
        raise TypeError(
            f"repeat_interleave(): repeats must be a 0-d or 1-d integer tensor, got "
            f"{repeats.dtype.name} of shape {repeats.shape}"
        )
    counts = repeats.array.numpy().reshape(-1)
    if n is not None and counts.size != n:
        raise ValueError(
            f"repeat_interleave(): repeats has {counts.size} counts, but the dimension has {n} "
            "slices; give one count per slice (or a single int)"
        )
    if counts.size and counts.min() < 0:
        raise ValueError("repeat_interleave(): repeats can not be negative")
    return counts


def _check_output_size(output_size: int | None, total: int) -> None:
    if (
        output_size is not None
        and arguments.integer("repeat_interleave", "output_size", output_size, minimum=0) != total
    ):
        raise ValueError(
            f"repeat_interleave(): output_size {output_size} is not the repeated size {total}"
        )


@export
def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Elements shifted by `shifts` along `dims`, wrapping around; without dims the tensor is
    rolled flattened and its shape restored."""
    steps = _int_list("roll", "shifts", shifts)
    if dims is None:
        if len(steps) != 1:
            raise ValueError(f"roll(): {len(steps)} shifts need as many dims, got dims=None")
        return roll(input.reshape(-1), steps[0], 0).reshape(input.shape)
    axes = [normalize_axis(d, max(input.ndim, 1)) for d in _int_list("roll", "dims", dims)]
    if len(axes) != len(steps):
        raise ValueError(
            f"roll(): shifts {tuple(steps)} and dims {tuple(axes)} must have the same length"
        )
    out = input if input.ndim else input.reshape(1)
    for step, axis in zip(steps, axes):
        n = out.shape[axis]
        cut = n - step % n if n else 0
        if cut in (0, n):
            continue
        out = cat([out[_along(axis, slice(cut, None))], out[_along(axis, slice(0, cut))]], axis)
    return out.reshape(input.shape) if out is not input else input


@export
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along `dim`, each a view without that dimension."""
    if input.ndim == 0:
        raise ValueError("unbind(): expects a tensor of at least 1 dimension, got a 0-d one")
    axis = normalize_axis(dim, input.ndim)
    return tuple(input[_along(axis, i)] for i in range(input.shape[axis]))


@export(aliases=("moveaxis",))
def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """A view with dimensions `source` moved to positions `destination`, the others keeping
    their order."""
    ndim = max(input.ndim, 1)
    src = [normalize_axis(d, ndim) for d in _int_list("movedim", "source", source)]
    dst = [normalize_axis(d, ndim) for d in _int_list("movedim", "destination", destination)]
    if len(src) != len(dst):
        raise ValueError(
            f"movedim(): source {tuple(src)} and destination {tuple(dst)} must have the same "
            "number of dimensions"
        )
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise ValueError(f"movedim(): repeated dim in {name} {tuple(dims)}")
    if input.ndim == 0:
        return input
    order: list[int | None] = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(input.ndim) if i not in src)
    return input.permute([next(rest) if o is None else o for o in order])


@export
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """A view with two dimensions exchanged (transpose under NumPy's name)."""
    return input.transpose(axis0, axis1) if input.ndim >= 2 else _checked_0d_1d(input, axis0, axis1)


@export
def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with two dimensions exchanged (transpose)."""
    return swapaxes(input, dim0, dim1)


def _checked_0d_1d(input: Tensor, *dims: int) -> Tensor:
    for d in dims:
        normalize_axis(d, max(input.ndim, 1))
    return input


@export
def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """A view of `length` elements of `dim` from `start` (negative counts from the end)."""
    if input.ndim == 0:
        raise ValueError("narrow(): cannot be applied to a 0-dim tensor")
    axis = normalize_axis(dim, input.ndim)
    size = input.shape[axis]
    begin = arguments.integer("narrow", "start", start)
    length = arguments.integer("narrow", "length", length, minimum=0)
    if not -size <= begin <= size:
        raise IndexError(
            f"narrow(): start out of range (expected to be in range of [{-size}, {size}], but "
            f"got {begin})"
        )
    begin = begin + size if begin < 0 else begin
    if begin + length > size:
        raise ValueError(
            f"narrow(): start ({begin}) + length ({length}) exceeds dimension size ({size})"
        )
    return input[_along(axis, slice(begin, begin + length))]


@export
def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dimension `dim` split into `sizes` (one may be -1): a view where strides allow."""
    if input.ndim == 0:
        raise ValueError("unflatten(): cannot be applied to a 0-dim tensor")
    axis = normalize_axis(dim, input.ndim)
    parts = arguments.sizes("unflatten", (sizes,), "sizes", "to infer that size")
    if not parts:
        raise ValueError("unflatten(): sizes must be non-empty")
    size = input.shape[axis]
    known = 1
    for p in parts:
        known *= p if p != -1 else 1
    if parts.count(-1) > 1:
        raise ValueError(f"unflatten(): only one size may be -1, got {parts}")
    if -1 in parts:
        if known == 0 or size % known:
            raise ValueError(
                f"unflatten(): sizes {list(parts)} cannot split dim {dim} of size {size}"
            )
        parts = tuple(size // known if p == -1 else p for p in parts)
    elif known != size:
        raise ValueError(
            f"unflatten(): sizes {list(parts)} don't multiply up to the size of dim {dim} "
            f"({size}) in the input tensor"
        )
    return input.reshape(input.shape[:axis] + parts + input.shape[axis + 1 :])


@export(function=False)
def view_as(input: Tensor, other: Tensor) -> Tensor:
    """input.view(other.shape): a view, refused where strides need a copy."""
    return input.view(_shape_of("view_as", other))


@export(function=False)
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """input.reshape(other.shape): a view where strides allow, else a copy."""
    return input.reshape(_shape_of("reshape_as", other))


def _shape_of(fn: str, other: Any) -> tuple[int, ...]:
    if not isinstance(other, Tensor):
        raise TypeError(f"{fn}(): other must be a Tensor, got {type(other).__name__}")
    return other.shape
