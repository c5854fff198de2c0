"""DistributedSampler: each rank's share of a dataset's indices, a new shuffle each epoch.

    sampler = DistributedSampler(train)          # rank and world size from plugrad.distributed
    loader = DataLoader(train, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                 # the same permutation on every rank
        for xb, yb in loader: ...

The permutation is `plugrad.randperm(n, generator=Generator(seed + epoch))`, identical on every
rank. Without drop_last the indices are padded (from their start) to a multiple of
num_replicas, so every rank gets the same number of samples and, taken together, the ranks
cover every sample at least once; with drop_last the tail that does not divide evenly is left
out. Rank r takes positions r, r + num_replicas, ...
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from ..factory import randperm
from ..random import Generator

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Indices 0..len(dataset)-1 for rank `rank` of `num_replicas` (torch's semantics)."""

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from ..distributed import world

            if not world.is_initialized():
                raise RuntimeError(
                    "DistributedSampler needs num_replicas and rank, or an initialized process "
                    "group (plugrad.distributed.init_process_group())"
                )
            num_replicas = world.get_world_size() if num_replicas is None else num_replicas
            rank = world.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in 0..{num_replicas - 1}, got {rank!r}")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Call before each epoch's loop: the shuffle is drawn from seed + epoch."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            generator = Generator(self.seed + self.epoch)
            indices = randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[: self.total_size]
        elif n:
            while len(indices) < self.total_size:
                indices += indices[: self.total_size - len(indices)]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples
