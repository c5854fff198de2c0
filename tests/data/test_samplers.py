"""Samplers against torch.utils.data where they are deterministic, against their distribution
(and the random stream they draw from) where they are random."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad import random_stream as rs
from plugrad.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

torch = pytest.importorskip("torch")
tdata = pytest.importorskip("torch.utils.data")


def raised(fn):
    try:
        fn()
    except Exception as error:
        return type(error)
    return None


@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler_as_torch(n):
    ours, theirs = SequentialSampler(range(n)), tdata.SequentialSampler(range(n))
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("batch_size", [1, 3, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_as_torch(n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    indices = [5, 3, 9, 0, 2, 2, 8][:n]  # any iterable of indices, repeats kept
    assert list(BatchSampler(indices, batch_size, drop_last)) == list(
        tdata.BatchSampler(indices, batch_size, drop_last)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"batch_size": -2},
        {"batch_size": 1.5},
        {"batch_size": True},
        {"drop_last": "yes"},
        {"drop_last": 1},
    ],  # fmt: skip
)
def test_batch_sampler_refuses_what_torch_refuses(kwargs):
    args = {"batch_size": 2, "drop_last": False, **kwargs}
    expected = raised(lambda: tdata.BatchSampler(range(4), **args))
    assert expected is ValueError
    with pytest.raises(expected, match=next(iter(kwargs))):
        BatchSampler(range(4), **args)


def test_random_sampler_draws_one_permutation_per_epoch_from_its_generator():
    g = plugrad.Generator(3)
    sampler = RandomSampler(range(20), generator=g)
    first, second = list(sampler), list(sampler)
    assert first == rs.permutation(20, rs.call_seed(3, 1)).tolist()
    assert second == rs.permutation(20, rs.call_seed(3, 2)).tolist()
    assert len(sampler) == 20 and sorted(first) == list(range(20)) and first != second
    plugrad.manual_seed(11)
    assert list(RandomSampler(range(5))) == rs.permutation(5, rs.call_seed(11, 1)).tolist()
    # more samples than the dataset has, without replacement: whole permutations, then a part
    longer = list(RandomSampler(range(6), num_samples=15, generator=plugrad.Generator(0)))
    assert len(longer) == 15
    assert sorted(longer[:6]) == sorted(longer[6:12]) == list(range(6))
    assert len(set(longer[12:])) == 3


def test_random_sampler_with_replacement_is_uniform():
    sampler = RandomSampler(range(5), replacement=True, num_samples=20000,
                            generator=plugrad.Generator(1))  # fmt: skip
    draws = list(sampler)
    assert len(draws) == len(sampler) == 20000 and set(draws) <= set(range(5))
    counts = np.bincount(draws, minlength=5)
    sigma = np.sqrt(20000 * 0.2 * 0.8)
    assert np.abs(counts - 4000).max() < 5 * sigma, counts
    assert list(sampler) != draws  # a new draw each epoch


@pytest.mark.parametrize(
    "kwargs", [{"replacement": "no"}, {"num_samples": 0}, {"num_samples": -1}, {"num_samples": 2.5}]
)
def test_random_sampler_refuses_what_torch_refuses(kwargs):
    expected = raised(lambda: tdata.RandomSampler(range(4), **kwargs))
    assert expected is not None
    with pytest.raises(expected, match=next(iter(kwargs))):
        RandomSampler(range(4), **kwargs)
    assert raised(lambda: RandomSampler(range(0))) is raised(lambda: tdata.RandomSampler(range(0)))


def test_subset_random_sampler_permutes_its_indices():
    indices = [10, 4, 7, 7, 2]
    sampler = SubsetRandomSampler(indices, generator=plugrad.Generator(6))
    order = rs.permutation(5, rs.call_seed(6, 1)).tolist()
    assert list(sampler) == [indices[i] for i in order] and len(sampler) == 5
    assert sorted(sampler) == sorted(indices)


def test_weighted_sampling_with_replacement_follows_the_weights():
    weights = [1.0, 2.0, 3.0, 0.0, 4.0]
    sampler = WeightedRandomSampler(weights, 40000, generator=plugrad.Generator(2))
    draws = list(sampler)
    assert len(draws) == len(sampler) == 40000
    p = np.array(weights) / sum(weights)
    counts = np.bincount(draws, minlength=5)
    assert counts[3] == 0  # a zero weight is never drawn
    sigma = np.sqrt(40000 * p * (1 - p))
    assert (np.abs(counts - 40000 * p) <= 5 * sigma + 1e-9).all(), counts
    # torch draws from the same distribution
    theirs = list(
        tdata.WeightedRandomSampler(weights, 40000, generator=torch.Generator().manual_seed(0))
    )
    assert (np.abs(np.bincount(theirs, minlength=5) - 40000 * p) <= 5 * sigma + 1e-9).all()
    again = WeightedRandomSampler(plugrad.tensor(weights), 40000, generator=plugrad.Generator(2))
    assert list(again) == draws  # a tensor of weights; the same generator, the same draws


def test_weighted_sampling_without_replacement_draws_in_turn_from_what_is_left():
    weights = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    total, epochs = weights.sum(), 4000
    sampler = WeightedRandomSampler(weights, 4, replacement=False, generator=plugrad.Generator(7))
    orders = [list(sampler) for _ in range(epochs)]
    assert all(sorted(o) == [0, 1, 2, 4] for o in orders)  # a permutation of the non-zero ones
    first = np.bincount([o[0] for o in orders], minlength=5) / epochs
    second = np.bincount([o[1] for o in orders], minlength=5) / epochs
    p_first = weights / total
    p_second = np.array([sum(weights[i] / total * weights[j] / (total - weights[i])
                             for i in range(5) if i != j) for j in range(5)])  # fmt: skip
    for observed, p in ((first, p_first), (second, p_second)):
        assert (np.abs(observed - p) <= 5 * np.sqrt(p * (1 - p) / epochs) + 1e-12).all()
    with pytest.raises(ValueError, match="without replacement from 4 non-zero weights"):
        WeightedRandomSampler(weights, 5, replacement=False)


@pytest.mark.parametrize(
    "args",
    [([1.0, 2.0], 0), ([1.0, 2.0], 2.5), ([[1.0], [2.0]], 2), ([1.0, 2.0], 2, "yes")],
)
def test_weighted_sampler_refuses_what_torch_refuses(args):
    expected = raised(lambda: tdata.WeightedRandomSampler(*args))
    assert expected is ValueError
    with pytest.raises(ValueError):
        WeightedRandomSampler(*args)
    for bad in ([1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]):  # torch: at iteration
        with pytest.raises(ValueError, match="weights"):
            WeightedRandomSampler(bad, 1)


def plain(batch):
    return batch.tolist() if hasattr(batch, "tolist") else batch


class Reversed(Sampler):
    """A user's sampler, as torch's docs write one."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))

    def __len__(self):
        return self.n


class TorchReversed(tdata.Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n - 1, -1, -1))

    def __len__(self):
        return self.n


def test_a_subclassed_sampler_and_batch_sampler_drive_the_loader_as_torchs():
    data = [3 * i for i in range(10)]
    cases = [
        ({"sampler": Reversed(10), "batch_size": 3},
         {"sampler": TorchReversed(10), "batch_size": 3}),
        ({"sampler": Reversed(10), "batch_size": 4, "drop_last": True},
         {"sampler": TorchReversed(10), "batch_size": 4, "drop_last": True}),
        ({"batch_sampler": BatchSampler(Reversed(10), 4, False)},
         {"batch_sampler": tdata.BatchSampler(TorchReversed(10), 4, False)}),
        ({"batch_sampler": [[1, 2], [9], [0, 0, 5]]}, {"batch_sampler": [[1, 2], [9], [0, 0, 5]]}),
        ({"batch_size": None}, {"batch_size": None}),
        ({"batch_size": None, "sampler": Reversed(10)},
         {"batch_size": None, "sampler": TorchReversed(10)}),
    ]  # fmt: skip
    for ours, theirs in cases:
        loader, reference = plugrad.data.DataLoader(data, **ours), tdata.DataLoader(data, **theirs)
        got = [plain(b) for b in loader]
        assert got == [plain(b) for b in reference], ours
        if not isinstance(ours.get("batch_sampler"), list):
            assert len(loader) == len(reference)
    assert plugrad.data.DataLoader(data, batch_size=None).batch_sampler is None
