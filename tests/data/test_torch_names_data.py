"""Issue 12's data-loading names exist in plugrad.data under torch.utils.data's names, with
torch's parameters (names, order and defaults). A name that goes missing or drifts fails here."""

from __future__ import annotations

import inspect

import pytest

import plugrad.data

tdata = pytest.importorskip(
    "torch.utils.data", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

NAMES = [
    "DataLoader", "Dataset", "IterableDataset", "ConcatDataset", "ChainDataset", "Sampler",
    "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
    "BatchSampler", "get_worker_info", "default_collate", "default_convert",
]  # fmt: skip


def parameters(obj) -> list[tuple[str, object]]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    return [(p.name, p.default) for p in inspect.signature(target).parameters.values()
            if p.name not in ("self", "args", "kwargs")]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_name_exists_with_torchs_parameters(name):
    ours, theirs = getattr(plugrad.data, name), getattr(tdata, name)
    assert name in plugrad.data.__all__ and callable(ours)
    if inspect.isclass(theirs) and theirs.__init__ is object.__init__:
        return  # torch's Dataset / IterableDataset take no arguments
    got, expected = parameters(ours), parameters(theirs)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (pname, default), (_, their_default) in zip(got, expected):
        assert default == their_default, f"{name}({pname}=...) defaults differ"
