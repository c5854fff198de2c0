"""Generators: where every random function gets its seed, as torch.random.

One seed, one stream: a `Generator` hands each random call one 64-bit seed
(`random_stream.call_seed(initial_seed, k)` for its k-th call), and every backend turns
(seed, element index) into the same numbers (`plugrad.random_stream` specifies them to the
bit). So `plugrad.manual_seed(n)` makes initialisation, dropout, shuffling and augmentation
reproducible, on any device and across moves between devices.

State: `get_state()` is an int64 tensor of shape (2,) on the "cpu" device, [initial seed
(as a two's-complement int64), calls drawn so far]; `plugrad.save` stores it like any tensor.
`set_state` takes that tensor (from any device) or a pair of ints.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import random_stream

if TYPE_CHECKING:
    from .autograd.tensor import Tensor

__all__ = [
    "Generator",
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

_MASK = (1 << 64) - 1


def _check_seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(value).__name__}")
    value = int(value)
    if not -(1 << 63) <= value <= _MASK:
        raise ValueError(f"seed must lie in [-2**63, 2**64), got {value}")
    return value & _MASK


class Generator:
    """A seed stream, as torch.Generator: `g = plugrad.Generator().manual_seed(0)`.

    `Generator(seed)` seeds it (from the OS when None). Streams do not depend on the device,
    so one generator serves every device; `device=` is accepted for torch's spelling and
    checked to name an installed device.
    """

    def __init__(self, seed: int | None = None, device: object = None) -> None:
        if device is not None:
            from .backend.registry import get_device

            get_device(device)
        if seed is None:
            self.seed()
        else:
            self.manual_seed(seed)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed` (negative seeds wrap to uint64, as in torch)."""
        self._initial = _check_seed(seed)
        self._calls = 0
        return self

    def seed(self) -> int:
        """Reseed from the OS; returns the new seed."""
        value = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        return self._initial

    def next_seed(self) -> int:
        """The seed of the next random call (one per call, whatever its size)."""
        self._calls += 1
        return random_stream.call_seed(self._initial, self._calls)

    def get_state(self) -> Tensor:
        """int64 tensor [initial seed, calls drawn] on "cpu" (see the module docstring)."""
        from .factory import tensor

        signed = self._initial - (1 << 64) if self._initial >> 63 else self._initial
        return tensor([signed, self._calls], dtype="int64", device="cpu")

    def set_state(self, new_state: Tensor | Sequence[int]) -> Generator:
        """Restore a state from `get_state()` (a tensor on any device, or a pair of ints)."""
        from .autograd.tensor import Tensor

        if isinstance(new_state, Tensor):
            if new_state.dtype.name != "int64" or new_state.shape != (2,):
                raise ValueError(
                    "a generator state is an int64 tensor of shape (2,) from get_state(), got "
                    f"{new_state.dtype.name} of shape {new_state.shape}"
                )
            values = [int(v) for v in new_state.detach().numpy()]
        elif isinstance(new_state, (tuple, list)) and len(new_state) == 2:
            values = list(new_state)
        else:
            raise TypeError(
                "set_state takes the tensor get_state() returned (or a pair of ints), got "
                f"{type(new_state).__name__}"
            )
        initial, calls = values
        if isinstance(calls, bool) or not isinstance(calls, (int, np.integer)) or calls < 0:
            raise ValueError(f"a generator state's call count is an integer >= 0, got {calls}")
        self._initial, self._calls = _check_seed(initial), int(calls)
        return self

    def __repr__(self) -> str:
        return f"Generator(initial_seed={self._initial}, calls={self._calls})"


default_generator = Generator(0)


def resolve(generator: Generator | None) -> Generator:
    """`generator`, or the default one when None; anything else is refused."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a plugrad.Generator, got {type(generator).__name__}")
    return generator


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Reseed the default generator from the OS and return the new seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (`Generator.get_state`)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor | Sequence[int]) -> None:
    """Restore the default generator's state from `get_rng_state()`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Iterable[Any] | None = None, enabled: bool = True) -> Iterator[None]:
    """Restore the default generator's state on exit, as torch.random.fork_rng.

    One generator serves every device, so `devices` has nothing more to save; it is accepted
    for torch's signature. `enabled=False` makes this a no-op.
    """
    if not enabled:
        yield
        return
    saved = (default_generator._initial, default_generator._calls)
    try:
        yield
    finally:
        default_generator._initial, default_generator._calls = saved


# --- host draws: the core's integer derivations of the stream (random_stream) --------------
def host_uniform(shape: tuple[int, ...], generator: Generator | None = None) -> np.ndarray:
    """One call's u(r0, r1) values in [0, 1) (float64), for decisions made on the host."""
    return random_stream.draw("uniform", shape, (0.0, 1.0), resolve(generator).next_seed())


def host_integers(shape: tuple[int, ...], n: int | Sequence[int],
                  generator: Generator | None = None) -> np.ndarray:  # fmt: skip
    """One call's integers in [0, n) (uint64; `n` an int or one per element)."""
    return random_stream.integers(shape, n, resolve(generator).next_seed())


def host_permutation(n: int, generator: Generator | None = None) -> np.ndarray:
    """One call's permutation of 0 .. n-1 (int64)."""
    return random_stream.permutation(n, resolve(generator).next_seed())
