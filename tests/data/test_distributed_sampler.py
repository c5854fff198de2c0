"""DistributedSampler without MPI (num_replicas and rank given): shards, padding, drop_last,
epochs; and DataLoader(sampler=...). On real ranks: tests/distributed/test_ddp.py."""

from __future__ import annotations

import pytest

import plugrad
from plugrad.data import DataLoader, DistributedSampler, TensorDataset


def shards(n: int, replicas: int, **kw) -> list[list[int]]:
    return [list(DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
def test_shards_cover_the_data_set_exactly_once_when_it_divides(replicas):
    parts = shards(12, replicas)
    assert sorted(i for p in parts for i in p) == list(range(12))
    assert all(len(p) == 12 // replicas for p in parts)


def test_padding_repeats_the_first_indices_so_every_rank_has_as_many():
    parts = shards(10, 4, shuffle=False)
    assert parts == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]


def test_drop_last_leaves_out_the_tail():
    parts = shards(10, 4, shuffle=False, drop_last=True)
    assert parts == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert len(DistributedSampler(range(10), 4, 0, drop_last=True)) == 2


def test_shuffle_is_the_seeded_permutation_of_the_epoch():
    sampler = DistributedSampler(range(9), 3, 1, seed=5)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        order = plugrad.randperm(9, generator=plugrad.Generator(5 + epoch)).tolist()
        assert list(sampler) == order[1::3]
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_every_rank_draws_the_same_permutation():
    parts = shards(20, 4, seed=1)
    assert sorted(i for p in parts for i in p) == list(range(20))


def test_bad_arguments_and_no_process_group():
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_data_loader_batches_the_sampler_order():
    data = TensorDataset(plugrad.arange(10.0))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert len(loader) == 3
    assert [b[0].tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(data, sampler=[0, 1], shuffle=True)
