"""Transforms on image tensors of shape (..., C, H, W): Compose, Normalize,
RandomFlipHorizontal and RandomCrop (with padding).

Random transforms draw from `generator` (default: the global one), one random call per
transform call (plugrad.random_stream): a flip when the call's uniform is below p, a crop's top
and left offsets as the call's two integers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..autograd.tensor import Tensor, pad
from ..random import Generator, host_integers, host_uniform, resolve

__all__ = ["Compose", "Normalize", "RandomCrop", "RandomFlipHorizontal"]


class Compose:
    """Apply transforms in order: Compose([RandomCrop(8, padding=1), Normalize(m, s)])."""

    def __init__(self, transforms: Sequence[Callable[[Tensor], Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Tensor) -> Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Normalize:
    """(x - mean) / std per channel: mean and std have one value per channel C of a
    (..., C, H, W) input (or are scalars)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = [float(mean)] if isinstance(mean, (int, float)) else [float(m) for m in mean]
        self.std = [float(std)] if isinstance(std, (int, float)) else [float(s) for s in std]
        if len(self.mean) != len(self.std):
            raise ValueError(
                f"Normalize needs as many means as stds, got {self.mean} and {self.std}"
            )
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std must be non-zero, got {self.std}")
        self._cache: dict[tuple, tuple[Tensor, Tensor]] = {}

    def __call__(self, x: Tensor) -> Tensor:
        if not x.dtype.is_floating:
            raise TypeError(f"Normalize needs a floating-point tensor, got {x.dtype.name}")
        channels = len(self.mean)
        if channels > 1 and (x.ndim < 3 or x.shape[-3] != channels):
            raise ValueError(
                f"Normalize with {channels} channels expects (..., {channels}, H, W) input, "
                f"got shape {x.shape}"
            )
        key = (x.device.name, x.dtype.name)
        if key not in self._cache:
            shape = (channels, 1, 1) if channels > 1 else ()
            self._cache[key] = (
                Tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape),
                Tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape),
            )
        mean, std = self._cache[key]
        return (x - mean) / std

    def __getstate__(self) -> dict:
        """Pickled (for spawned DataLoader workers) without its per-device tensor cache."""
        return {**self.__dict__, "_cache": {}}

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomFlipHorizontal:
    """Mirror the last dimension (W) with probability p."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"flip probability must lie in [0, 1], got {p}")
        self.p = p
        self.generator = generator if generator is None else resolve(generator)

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"RandomFlipHorizontal expects (..., H, W) input, got shape {x.shape}")
        if host_uniform((), self.generator) < self.p:
            return x.flip(-1)
        return x

    def __repr__(self) -> str:
        return f"RandomFlipHorizontal(p={self.p})"


class RandomCrop:
    """A random (h, w) window of (..., H, W) input, after padding each side by `padding`
    (an int, or (left/right, top/bottom), or (left, top, right, bottom)) with `fill`."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] = 0,
        fill: float = 0.0,
        generator: Generator | None = None,
    ) -> None:
        self.size = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f"RandomCrop size must be a positive int or (h, w), got {size!r}")
        if isinstance(padding, int):
            pads = (padding,) * 4
        elif len(padding) == 2:
            pads = (padding[0], padding[1], padding[0], padding[1])
        elif len(padding) == 4:
            pads = tuple(padding)
        else:
            raise ValueError(f"padding must be an int, 2 or 4 ints, got {padding!r}")
        if min(pads) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        self.padding = tuple(int(p) for p in pads)  # left, top, right, bottom
        self.fill = fill
        self.generator = generator if generator is None else resolve(generator)

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 2:
            raise ValueError(f"RandomCrop expects (..., H, W) input, got shape {x.shape}")
        left, top, right, bottom = self.padding
        if any(self.padding):
            x = pad(x, (left, right, top, bottom), self.fill)
        height, width = x.shape[-2:]
        h, w = self.size
        if h > height or w > width:
            raise ValueError(
                f"RandomCrop size {self.size} is larger than the padded input {(height, width)}"
            )
        i, j = (
            int(k) for k in host_integers((2,), [height - h + 1, width - w + 1], self.generator)
        )
        return x[..., i : i + h, j : j + w]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"
