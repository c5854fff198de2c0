"""DataLoader's arguments follow torch's rules; ConcatDataset, ChainDataset and
IterableDataset behave as torch's, in the main process and in workers."""

from __future__ import annotations

import os

import numpy as np
import pytest

import plugrad
from plugrad.data import (
    ChainDataset,
    ConcatDataset,
    DataLoader,
    IterableDataset,
    TensorDataset,
    default_collate,
    default_convert,
    get_worker_info,
)

torch = pytest.importorskip("torch")
tdata = pytest.importorskip("torch.utils.data")
fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers started with fork")


class Stream(IterableDataset):
    """start .. stop-1, sharded between workers."""

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        info = get_worker_info()
        step, first = (1, 0) if info is None else (info.num_workers, info.id)
        return iter(range(self.start + first, self.stop, step))

    def __len__(self):
        return self.stop - self.start


class TorchStream(tdata.IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        info = tdata.get_worker_info()
        step, first = (1, 0) if info is None else (info.num_workers, info.id)
        return iter(range(self.start + first, self.stop, step))

    def __len__(self):
        return self.stop - self.start


def raised(fn):
    try:
        fn()
    except Exception as error:
        return type(error)
    return None


DATA = list(range(10))
REFUSED = [
    {"sampler": [0, 1], "shuffle": True},
    {"batch_sampler": [[0, 1]], "batch_size": 2},
    {"batch_sampler": [[0, 1]], "shuffle": True},
    {"batch_sampler": [[0, 1]], "sampler": [0, 1]},
    {"batch_sampler": [[0, 1]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"batch_size": 0},
    {"num_workers": -1},
    {"timeout": -1},
    {"prefetch_factor": 2},
    {"persistent_workers": True},
    {"multiprocessing_context": "fork"},
    {"num_workers": 1, "multiprocessing_context": "telepathy"},
]


@pytest.mark.parametrize("kwargs", REFUSED, ids=lambda kw: ",".join(kw))
def test_refused_combinations_are_torchs(kwargs):
    expected = raised(lambda: tdata.DataLoader(DATA, **kwargs))
    assert expected is ValueError
    with pytest.raises(ValueError):
        DataLoader(DATA, **kwargs)


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_an_iterable_dataset_takes_no_sampler_or_shuffle(kwargs):
    assert raised(lambda: tdata.DataLoader(TorchStream(0, 4), **kwargs)) is ValueError
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified"):
        DataLoader(Stream(0, 4), **kwargs)


def test_accepted_arguments_and_fixed_attributes():
    loader = DataLoader(DATA, batch_size=3, num_workers=2, pin_memory=True, timeout=5,
                        multiprocessing_context="spawn", pin_memory_device="cuda")  # fmt: skip
    assert loader.prefetch_factor == 2 and loader.pin_memory
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    assert DataLoader(DATA).collate_fn is default_collate
    assert DataLoader(DATA, batch_size=None).collate_fn is default_convert
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, None)
        assert raised(lambda n=name: setattr(tdata.DataLoader(DATA), n, None)) is ValueError
    loader.num_workers = 0  # torch leaves the others settable
    with pytest.raises(TypeError, match="multiprocessing_context"):
        DataLoader(DATA, num_workers=1, multiprocessing_context=3)
    with pytest.raises(TypeError, match="worker_init_fn must be callable"):
        DataLoader(DATA, num_workers=1, worker_init_fn=3)
    with pytest.raises(ValueError, match="prefetch_factor should be a positive integer"):
        DataLoader(DATA, num_workers=1, prefetch_factor=0)


@pytest.mark.parametrize("batch_size", [None, 1, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_lengths_are_torchs(batch_size, drop_last):
    if batch_size is None and drop_last:
        return
    for data, theirs in ((DATA, DATA), (Stream(0, 10), TorchStream(0, 10))):
        ours = DataLoader(data, batch_size=batch_size, drop_last=drop_last)
        reference = tdata.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
        assert len(ours) == len(reference)


def test_concat_dataset_indexes_as_torchs():
    parts = [list(range(3)), list(range(10, 15)), [], list(range(20, 21))]
    ours, theirs = ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9 and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    for bad in (9, -10):
        with pytest.raises(IndexError, match="out of range"):
            ours[bad]
    with pytest.raises(ValueError, match="at least one dataset"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([Stream(0, 2)])
    a = TensorDataset(plugrad.arange(4))
    both = a + TensorDataset(plugrad.arange(10, 13))
    assert isinstance(both, ConcatDataset) and [int(both[i][0].item()) for i in range(7)] == [
        0, 1, 2, 3, 10, 11, 12,
    ]  # fmt: skip


@fork_only
def test_concat_dataset_through_the_loader_with_workers(device):
    if not device.backend.is_host:
        pytest.skip(
            "workers take host datasets; test_workers checks that a device dataset is refused"
        )
    a = TensorDataset(plugrad.arange(8, dtype=plugrad.float32, device=device).reshape(4, 2))
    b = TensorDataset(plugrad.arange(6, dtype=plugrad.float32, device=device).reshape(3, 2) + 100)
    expected = [x.tolist() for (x,) in DataLoader(a + b, 2, shuffle=True,
                                                  generator=plugrad.Generator(8))]  # fmt: skip
    loader = DataLoader(a + b, 2, shuffle=True, generator=plugrad.Generator(8), num_workers=2)
    got = list(loader)
    assert [x.tolist() for (x,) in got] == expected and got[0][0].device is device
    assert sorted(sum(expected, [])) == sorted(a.tensors[0].tolist() + b.tensors[0].tolist())


def test_chain_dataset_as_torchs():
    ours = ChainDataset([Stream(0, 3), Stream(10, 12)])
    theirs = tdata.ChainDataset([TorchStream(0, 3), TorchStream(10, 12)])
    assert list(ours) == list(theirs) and len(ours) == len(theirs) == 5
    assert list(Stream(0, 2) + Stream(5, 6)) == [0, 1, 5]
    with pytest.raises(TypeError, match="only chains IterableDatasets"):
        list(ChainDataset([[1, 2]]))


@fork_only
@pytest.mark.parametrize("num_workers", [0, 1, 2])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sharded_iterable_dataset_batches_as_torchs(num_workers, drop_last):
    """Batches come from the workers in turn; each worker drops its own last short batch."""
    ours = DataLoader(Stream(0, 17), batch_size=2, num_workers=num_workers, drop_last=drop_last)
    theirs = tdata.DataLoader(TorchStream(0, 17), batch_size=2, num_workers=num_workers,
                              drop_last=drop_last)  # fmt: skip
    assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]


def test_default_collate_and_convert_as_torchs():
    from collections import namedtuple

    Point = namedtuple("Point", "x y")
    samples = [Point(np.array([1.0, 2.0]), 3), Point(np.array([4.0, 5.0]), 6)]
    ours, theirs = default_collate(samples), tdata.default_collate(samples)
    assert type(ours) is Point and ours.x.tolist() == theirs.x.tolist()
    assert ours.y.tolist() == theirs.y.tolist() and ours.y.dtype is plugrad.int64
    sample = (np.arange(3, dtype=np.float32), 7, "name", {"m": np.ones(2)})
    ours, theirs = default_convert(sample), tdata.default_convert(sample)
    assert type(ours) is type(theirs) is list  # a tuple becomes a list, as torch
    assert ours[0].tolist() == theirs[0].tolist() and ours[0].dtype is plugrad.float32
    assert ours[1:3] == theirs[1:3] == [7, "name"] and ours[3]["m"].tolist() == [1.0, 1.0]
