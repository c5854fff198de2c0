"""Values coming in from the host (Python numbers, NumPy arrays, DLPack, checkpoints) are stored
as they are or refused: integers never wrap, bool bytes other than 0 and 1 mean True. And bool
arithmetic stays bool, as in torch and NumPy. On every installed device; torch is the oracle
for values (where torch raises, its message is quoted instead: a C++ exception thrown by torch
aborts the process under `make test-asan`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import plugrad
from plugrad.dtypes import IntegerOverflowError

DEVICES = plugrad.available_devices()
RAW_BOOLS = np.array([0, 1, 2, 255, 0, 7], dtype=np.uint8)  # as bool: F T T T F T
TRUTH = [False, True, True, True, False, True]


@pytest.fixture(params=DEVICES)
def device(request):
    with plugrad.device(request.param) as dev:
        yield dev


@pytest.fixture
def host_device(device):
    """A device whose tensors may share NumPy's memory (from_numpy, from_dlpack)."""
    if not device.backend.is_host:
        pytest.skip(f"{device.name} copies host data: memory sharing applies to host devices")
    return device


# --- integers that do not fit int64 --------------------------------------------------------


@pytest.mark.parametrize(
    "data", [[2**63], [-(2**63) - 1], [1, 2**64], [[0], [2**70]]], ids=["2^63", "-2^63-1",
                                                                        "2^64", "nested"]
)  # fmt: skip
def test_python_ints_out_of_int64_raise_as_torch_does(device, data):
    # torch.tensor(data) raises ValueError "Overflow when unpacking long long"
    with pytest.raises(ValueError, match="does not fit int64") as info:
        plugrad.tensor(data)
    assert isinstance(info.value, OverflowError) and isinstance(info.value, IntegerOverflowError)
    with pytest.raises(OverflowError):
        plugrad.tensor(data, dtype=plugrad.int64)


def test_the_int64_extremes_are_kept(device):
    values = [2**63 - 1, -(2**63), 0]
    t = plugrad.tensor(values)
    assert t.dtype == plugrad.int64 and t.tolist() == values == torch.tensor(values).tolist()


def test_uint64_arrays_load_when_their_values_fit(host_device):
    small = np.array([0, 5, 2**63 - 1], dtype=np.uint64)
    assert plugrad.tensor(small).tolist() == small.astype(np.int64).tolist()
    for big in (np.array([2**64 - 1], dtype=np.uint64), np.array([1, 2**63], dtype=np.uint64)):
        with pytest.raises(OverflowError, match=r"uint64 data\) does not fit int64.*no uint64"):
            plugrad.tensor(big)
    with pytest.raises(TypeError, match="cannot share the memory of a uint64 array"):
        plugrad.from_numpy(small)


def test_floats_out_of_int64_range_are_refused_when_int64_is_asked_for(device):
    # torch.tensor([1e30], dtype=torch.int64) raises RuntimeError "value cannot be converted
    # to type int64 without overflow"
    for bad in ([1e30], [-1e19], [float("nan")], [float("inf")], [2.0**63]):
        with pytest.raises(OverflowError, match="does not fit int64"):
            plugrad.tensor(bad, dtype=plugrad.int64)
    kept = [2.9, -2.9, -(2.0**63)]  # truncated toward zero, as torch does
    expected = torch.tensor(kept, dtype=torch.float64).to(torch.int64).tolist()
    assert plugrad.tensor(kept, dtype=plugrad.int64).tolist() == expected


def test_scalars_that_do_not_fit_a_factory_dtype_raise(device):
    with pytest.raises((ValueError, OverflowError)):
        plugrad.full((2,), 2**63, dtype=plugrad.int64)


# --- bool bytes other than 0 and 1 -----------------------------------------------------------


def check_truth(t: plugrad.Tensor) -> None:
    assert (t == True).tolist() == TRUTH  # noqa: E712 - the comparison under test
    assert (t == plugrad.ones(6, dtype=plugrad.bool)).tolist() == TRUTH
    assert t.long().tolist() == [int(v) for v in TRUTH]
    assert t.sum().item() == sum(TRUTH)
    assert (~t).tolist() == [not v for v in TRUTH]


def test_tensor_copies_canonical_bools(device):
    check_truth(plugrad.tensor(RAW_BOOLS.view(np.bool_)))
    check_truth(plugrad.tensor(RAW_BOOLS.view(np.bool_), dtype=plugrad.bool))


def test_from_numpy_copies_non_canonical_bools_with_a_warning(host_device):
    raw = RAW_BOOLS.copy()
    with pytest.warns(RuntimeWarning, match="bytes other than 0 and 1"):
        t = plugrad.from_numpy(raw.view(np.bool_))
    check_truth(t)
    assert raw.tolist() == RAW_BOOLS.tolist()  # the caller's bytes are never rewritten
    canonical = np.array(TRUTH)
    shared = plugrad.from_numpy(canonical)  # canonical bools are shared as before
    canonical[0] = True
    assert shared.tolist()[0] is True


def test_from_dlpack_of_non_canonical_bools(host_device):
    raw = RAW_BOOLS.view(np.bool_).copy()
    with pytest.warns(RuntimeWarning):
        check_truth(plugrad.from_dlpack(raw))


def test_strided_non_canonical_bools(host_device):
    raw = np.zeros(12, dtype=np.uint8)
    raw[::2] = RAW_BOOLS
    view = raw.view(np.bool_)[::2]
    check_truth(plugrad.tensor(view))
    with pytest.warns(RuntimeWarning):
        check_truth(plugrad.from_numpy(view))


def test_a_checkpoint_with_non_canonical_bools_loads_canonical(device, tmp_path):
    path = tmp_path / "mask.safetensors"
    save_file({"mask": RAW_BOOLS.view(np.bool_)}, str(path))
    assert path.read_bytes().count(b"\xff") >= 1  # the raw byte really is in the file
    check_truth(plugrad.load(path)["mask"])


# --- bool arithmetic -------------------------------------------------------------------------

A, B = [True, True, False, False], [True, False, True, False]


def test_bool_add_and_mul_stay_bool_as_in_torch(device):
    a, b = plugrad.tensor(A), plugrad.tensor(B)
    ta, tb = torch.tensor(A), torch.tensor(B)
    for got, want in ((a + b, ta + tb), (a * b, ta * tb), (a + True, ta + True),
                      (a * False, ta * False), (True + a, True + ta)):  # fmt: skip
        assert got.dtype == plugrad.bool and want.dtype == torch.bool
        assert got.tolist() == want.tolist()
    assert (plugrad.tensor(True) + plugrad.tensor(True)).item() is True
    promoted = a + 1
    assert promoted.dtype == plugrad.int64 and promoted.tolist() == (ta + 1).tolist()
    assert (a + plugrad.tensor([1, 2, 3, 4])).tolist() == (ta + torch.tensor([1, 2, 3, 4])).tolist()


@pytest.mark.parametrize(
    "make",
    [lambda a: a - a, lambda a: a - True, lambda a: True - a, lambda a: a - 1,
     lambda a: a.long() - a, lambda a: a.float() - True],
    ids=["bool-bool", "bool-True", "True-bool", "bool-1", "long-bool", "float-True"],
)  # fmt: skip
def test_bool_subtraction_is_refused_as_in_torch(device, make):
    # torch raises RuntimeError "Subtraction, the `-` operator, with a bool tensor is not
    # supported" for each of these
    with pytest.raises(RuntimeError, match="subtraction with a bool operand"):
        make(plugrad.tensor(A))
