"""Seeds: one generator per process hands every random kernel a fresh 64-bit seed.

`plugrad.manual_seed(n)` makes initialisation, dropout and shuffling reproducible on a given
backend. Backends turn (seed, element index) into numbers, so results do not depend on threads.
"""

from __future__ import annotations

import os

import numpy as np

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Generator:
    """A seed stream, as torch.Generator: `g = plugrad.Generator().manual_seed(0)`."""

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(int.from_bytes(os.urandom(8), "little") if seed is None else seed)

    def manual_seed(self, seed: int) -> Generator:
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
        self._initial = int(seed) & _MASK
        self._counter = 0
        return self

    def initial_seed(self) -> int:
        return self._initial

    def next_seed(self) -> int:
        """A new 64-bit seed for one random kernel call."""
        self._counter += 1
        return _splitmix64(self._initial ^ _splitmix64(self._counter))

    def numpy(self) -> np.random.Generator:
        """A NumPy generator seeded from this stream (host-side shuffles)."""
        return np.random.Generator(np.random.Philox(self.next_seed()))

    def get_state(self) -> tuple[int, int]:
        return (self._initial, self._counter)

    def set_state(self, state: tuple[int, int]) -> None:
        self._initial, self._counter = int(state[0]), int(state[1])


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Reseed from the OS and return the new seed."""
    value = int.from_bytes(os.urandom(8), "little")
    default_generator.manual_seed(value)
    return value


def initial_seed() -> int:
    return default_generator.initial_seed()
