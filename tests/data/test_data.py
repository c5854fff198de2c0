"""plugrad.data: datasets, the DataLoader, transforms and the bundled digits."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

import plugrad
from plugrad import random_stream as rs
from plugrad.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from plugrad.data import transforms as T
from plugrad.data.datasets import load_digits


def dataset(device, n=10):
    x = plugrad.arange(n * 3, dtype=plugrad.float32, device=device).reshape(n, 3)
    y = plugrad.arange(n, device=device)
    return TensorDataset(x, y)


def test_tensor_dataset(device):
    ds = dataset(device)
    assert len(ds) == 10
    x, y = ds[4]
    assert x.tolist() == [12.0, 13.0, 14.0] and y.item() == 4
    xb, yb = ds.get_batch(np.array([7, 2, 2]))
    assert yb.tolist() == [7, 2, 2] and xb.shape == (3, 3) and xb.device is device
    assert ds.get_batch(np.array([3, 4, 5]))[1].tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="share their first dimension"):
        TensorDataset(plugrad.zeros(3), plugrad.zeros(4))
    with pytest.raises(IndexError, match="out of range"):
        ds[10]  # noqa: B018


def test_loader_batches_and_drop_last(device):
    ds = dataset(device)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropping = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropping) == 2 and [len(yb) for _, yb in dropping] == [4, 4]
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_shuffle_is_a_permutation_reproducible_from_the_seed(device):
    ds = dataset(device, 50)
    loader = DataLoader(ds, batch_size=8, shuffle=True)

    def epoch():
        return [i for _, yb in loader for i in yb.tolist()]

    plugrad.manual_seed(3)
    first, second = epoch(), epoch()
    assert sorted(first) == list(range(50)) and first != list(range(50))
    assert first != second  # a new order every epoch
    plugrad.manual_seed(3)
    assert epoch() == first and epoch() == second
    g1, g2 = plugrad.Generator(11), plugrad.Generator(11)
    a = [yb.tolist() for _, yb in DataLoader(ds, 8, shuffle=True, generator=g1)]
    plugrad.manual_seed(99)
    assert a == [yb.tolist() for _, yb in DataLoader(ds, 8, shuffle=True, generator=g2)]


def test_shuffle_with_a_generator_is_the_same_on_every_device():
    """The order is randperm(n) from the generator's stream, drawn on the host: the batches
    do not depend on where the data lives. An epoch draws its order, then the workers' base
    seed, so epoch k's order is call 2k - 1."""
    epochs = {}
    for name in plugrad.available_devices():
        loader = DataLoader(dataset(plugrad.device(name), 30), 7, shuffle=True,
                            generator=plugrad.Generator(5))  # fmt: skip
        epochs[name] = [[yb.tolist() for _, yb in loader] for _ in range(2)]
    first = next(iter(epochs.values()))
    assert all(e == first for e in epochs.values()), list(epochs)
    orders = [rs.permutation(30, rs.call_seed(5, k)).tolist() for k in (1, 3)]
    assert [sum(batches, []) for batches in first] == orders


def test_random_split_and_transforms_follow_the_stream():
    parts = random_split(dataset(None, 12), [8, 4], generator=plugrad.Generator(3))
    order = rs.permutation(12, rs.call_seed(3, 1))
    assert [p.indices.tolist() for p in parts] == [order[:8].tolist(), order[8:].tolist()]
    image = plugrad.arange(25, dtype=plugrad.float32).reshape(1, 5, 5)
    i, j = (int(k) for k in rs.integers((2,), [3, 4], rs.call_seed(8, 1)))
    crop = T.RandomCrop((3, 2), generator=plugrad.Generator(8))(image)
    np.testing.assert_array_equal(crop.numpy(), image.numpy()[..., i : i + 3, j : j + 2])
    flips = [T.RandomFlipHorizontal(0.5, generator=g)(image) is not image
             for g in (plugrad.Generator(s) for s in range(40))]  # fmt: skip
    expected = [rs.draw("uniform", (), (0.0, 1.0), rs.call_seed(s, 1)) < 0.5 for s in range(40)]
    assert flips == expected


def test_collate_fn_and_generic_datasets(device):
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": plugrad.full((2,), float(i), device=device), "y": i * i, "name": f"s{i}"}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[0]["x"].tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert batches[1]["y"].tolist() == [4, 9] and batches[1]["y"].dtype is plugrad.int64
    assert batches[2]["name"] == ["s4"]
    summed = list(
        DataLoader(Squares(), batch_size=5, collate_fn=lambda items: sum(s["y"] for s in items))
    )
    assert summed == [30]
    assert default_collate([(1.5, np.zeros(2)), (2.5, np.ones(2))])[0].dtype is plugrad.float64
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object()])


def test_subset_and_random_split(device):
    ds = dataset(device, 20)
    sub = Subset(ds, [5, 1, 9])
    assert len(sub) == 3 and sub[0][1].item() == 5
    assert [yb.tolist() for _, yb in DataLoader(sub, batch_size=3)] == [[5, 1, 9]]
    parts = random_split(ds, [0.75, 0.25], generator=plugrad.Generator(0))
    assert [len(p) for p in parts] == [15, 5]
    seen = sorted(int(i) for p in parts for i in p.indices)
    assert seen == list(range(20))
    with pytest.raises(ValueError, match="add up"):
        random_split(ds, [5, 5])


def test_transforms(device):
    image = plugrad.arange(2 * 3 * 4, dtype=plugrad.float32, device=device).reshape(2, 3, 4)
    norm = T.Normalize([1.0, 2.0], [2.0, 4.0])
    expected = (image.numpy() - np.array([1.0, 2.0]).reshape(2, 1, 1)) / np.array(
        [2.0, 4.0]
    ).reshape(2, 1, 1)
    np.testing.assert_allclose(norm(image).numpy(), expected)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2, H, W\)"):
        norm(plugrad.zeros(3, 3, 4, device=device))
    np.testing.assert_array_equal(
        T.RandomFlipHorizontal(p=1.0)(image).numpy(), image.numpy()[..., ::-1]
    )
    assert T.RandomFlipHorizontal(p=0.0)(image) is image
    crop = T.RandomCrop(3, padding=1, generator=plugrad.Generator(0))
    padded = np.pad(image.numpy(), ((0, 0), (1, 1), (1, 1)))
    windows = {padded[:, i : i + 3, j : j + 3].tobytes() for i in range(3) for j in range(4)}
    outs = [crop(image).numpy() for _ in range(20)]
    assert all(o.shape == (2, 3, 3) and o.tobytes() in windows for o in outs)
    assert len({o.tobytes() for o in outs}) > 1
    again = T.RandomCrop(3, padding=1, generator=plugrad.Generator(0))
    np.testing.assert_array_equal(again(image).numpy(), outs[0])
    pipeline = T.Compose([T.RandomCrop((3, 4), padding=(0, 1)), T.RandomFlipHorizontal(), norm])
    assert pipeline(image).shape == (2, 3, 4) and "RandomCrop" in repr(pipeline)
    with pytest.raises(ValueError, match="larger than the padded input"):
        T.RandomCrop(5)(image)


def test_a_tensor_dataset_pickles_for_spawned_workers(device):
    """Tensors do not pickle; a TensorDataset sends them as NumPy arrays and rebuilds them on
    their device, transform (a used Normalize, whose tensor cache is dropped) included."""
    norm = T.Normalize(1.0, 2.0)
    norm(plugrad.zeros(1, 2, 2, device=device))
    x = plugrad.arange(6, dtype=plugrad.float64, device=device).reshape(3, 1, 2)
    ds = TensorDataset(x, plugrad.tensor([True, False, True], device=device), transform=norm)
    copy = pickle.loads(pickle.dumps(ds))
    for ours, theirs in zip(copy.tensors, ds.tensors):
        assert ours.device is device and ours.dtype is theirs.dtype
        assert ours.tolist() == theirs.tolist()
    assert copy[2][0].tolist() == [[1.5, 2.0]] and copy.transform.mean == [1.0]


def test_transform_in_a_tensor_dataset(device):
    x = plugrad.zeros(6, 1, 2, 2, device=device)
    ds = TensorDataset(x, plugrad.arange(6, device=device), transform=T.Normalize(1.0, 2.0))
    xb, yb = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
    assert xb.shape == (4, 1, 2, 2) and (xb.numpy() == -0.5).all() and len(set(yb.tolist())) == 4


def test_load_digits(device):
    full = load_digits(device=device)
    x, y = full.tensors
    assert x.shape == (1797, 64) and y.shape == (1797,) and x.device is device
    assert y.dtype is plugrad.int64 and x.dtype is plugrad.float32
    assert (
        0.0 <= x.numpy().min()
        and x.numpy().max() == 1.0
        and sorted(set(y.tolist())) == list(range(10))
    )
    train, test = load_digits("train", device=device), load_digits("test", device=device)
    assert len(train) + len(test) == 1797 and 0.18 < len(test) / 1797 < 0.22
    rows = {r.tobytes() + bytes([c]) for r, c in zip(x.numpy(), y.tolist())}
    test_rows = {
        r.tobytes() + bytes([c]) for r, c in zip(test.tensors[0].numpy(), test.tensors[1].tolist())
    }
    assert test_rows <= rows
    counts = np.bincount(np.asarray(test.tensors[1].tolist()), minlength=10)
    assert counts.min() >= 30  # stratified: every class held out
    np.testing.assert_array_equal(
        load_digits("test", device=device).tensors[1].numpy(), test.tensors[1].numpy()
    )
    images = load_digits(flatten=False, dtype=plugrad.float64, device=device)
    assert images.tensors[0].shape == (1797, 1, 8, 8) and images.tensors[0].dtype is plugrad.float64
    with pytest.raises(ValueError, match="split"):
        load_digits("validation")


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"plugrad\[data\]"):
        load_digits()
