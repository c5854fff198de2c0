"""Bitwise ops (& | ^ ~ << >>, their method, function and in-place forms) against torch, on
every installed device: int64 and bool, broadcasting, Python scalars on either side."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import plugrad

torch = pytest.importorskip("torch", reason="torch is the test-only oracle")

OPERATORS = {
    "bitwise_and": operator.and_,
    "bitwise_or": operator.or_,
    "bitwise_xor": operator.xor,
    "bitwise_left_shift": operator.lshift,
    "bitwise_right_shift": operator.rshift,
}
INPLACE = {
    "bitwise_and": operator.iand,
    "bitwise_or": operator.ior,
    "bitwise_xor": operator.ixor,
    "bitwise_left_shift": operator.ilshift,
    "bitwise_right_shift": operator.irshift,
}
LOGICAL = ("bitwise_and", "bitwise_or", "bitwise_xor")


def _ints(shape, seed, low=-(2**40), high=2**40):
    rng = np.random.default_rng(seed)
    values = rng.integers(low, high, size=shape, dtype=np.int64)
    if values.size > 3:
        values.reshape(-1)[:3] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1]
    return values


def _counts(shape, seed):
    return np.random.default_rng(seed).integers(-3, 70, size=shape, dtype=np.int64)


def _check(ours, theirs):
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), (ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("op", list(OPERATORS))
@pytest.mark.parametrize(("sa", "sb"), [((7,), (7,)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)),
                                        ((), (5,)), ((0, 3), (3,))])  # fmt: skip
def test_int64_against_torch(device, op, sa, sb):
    a = _ints(sa, 1)
    b = _counts(sb, 2) if "shift" in op else _ints(sb, 3)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    pa, pb = plugrad.tensor(a, device=device), plugrad.tensor(b, device=device)
    want = OPERATORS[op](ta, tb)
    _check(OPERATORS[op](pa, pb), want)
    _check(getattr(pa, op)(pb), want)
    _check(getattr(plugrad, op)(pa, pb), want)


@pytest.mark.parametrize("op", LOGICAL)
def test_bool_against_torch(device, op):
    rng = np.random.default_rng(4)
    a, b = rng.random((3, 5)) < 0.5, rng.random((1, 5)) < 0.5
    pa, pb = plugrad.tensor(a, device=device), plugrad.tensor(b, device=device)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    _check(OPERATORS[op](pa, pb), OPERATORS[op](ta, tb))
    _check(getattr(plugrad, op)(pa, pb), OPERATORS[op](ta, tb))
    # bool with int64 promotes to int64, as in torch
    pi, ti = plugrad.tensor(_ints((5,), 5), device=device), torch.from_numpy(_ints((5,), 5))
    _check(OPERATORS[op](pa, pi), OPERATORS[op](ta, ti))


def test_invert(device):
    a = _ints((4, 3), 6)
    _check(~plugrad.tensor(a, device=device), ~torch.from_numpy(a))
    want = torch.bitwise_not(torch.from_numpy(a))
    _check(plugrad.bitwise_not(plugrad.tensor(a, device=device)), want)
    m = np.array([True, False, True])
    _check(~plugrad.tensor(m, device=device), ~torch.from_numpy(m))
    _check(plugrad.tensor(m, device=device).bitwise_not(), torch.from_numpy(m).bitwise_not())


@pytest.mark.parametrize("op", list(OPERATORS))
@pytest.mark.parametrize("value", [0, 3, -5, 63, 64, 200, True])
def test_python_scalars_either_side(device, op, value):
    a = _counts((6,), 7) if "shift" in op else _ints((6,), 7)
    pa, ta = plugrad.tensor(a, device=device), torch.from_numpy(a)
    fn = OPERATORS[op]
    _check(fn(pa, value), fn(ta, value))
    _check(fn(value, pa), fn(value, ta))


@pytest.mark.parametrize("op", LOGICAL)
@pytest.mark.parametrize("value", [True, False, 1, 6])
def test_bool_with_scalars(device, op, value):
    m = np.array([True, False, True, False])
    pm, tm = plugrad.tensor(m, device=device), torch.from_numpy(m)
    _check(OPERATORS[op](pm, value), OPERATORS[op](tm, value))
    _check(OPERATORS[op](value, pm), OPERATORS[op](value, tm))


@pytest.mark.parametrize("op", list(OPERATORS))
def test_in_place(device, op):
    a = _ints((3, 4), 8)
    b = _counts((4,), 9) if "shift" in op else _ints((4,), 9)
    pa, ta = plugrad.tensor(a, device=device), torch.from_numpy(a.copy())
    pb, tb = plugrad.tensor(b, device=device), torch.from_numpy(b)
    same = pa
    pa = INPLACE[op](pa, pb)
    INPLACE[op](ta, tb)
    assert pa is same
    _check(pa, ta)
    pc, tc = plugrad.tensor(a, device=device), torch.from_numpy(a.copy())
    getattr(pc, op + "_")(3)
    getattr(tc, op + "_")(3)
    _check(pc, tc)
    # a non-compact target (a transposed view) writes through
    pd, td = plugrad.tensor(a, device=device), torch.from_numpy(a.copy())
    INPLACE[op](pd.T, 2)
    INPLACE[op](td.T, 2)
    _check(pd, td)


def test_in_place_bool_and_refusal(device):
    m = plugrad.tensor([True, False, True], device=device)
    m &= plugrad.tensor([True, True, False], device=device)
    assert m.tolist() == [True, False, False]
    m |= True
    assert m.tolist() == [True, True, True]
    n = plugrad.tensor([1, 2, 3], device=device)
    n.bitwise_not_()
    assert n.tolist() == [-2, -3, -4]
    with pytest.raises(RuntimeError, match="can't be cast"):
        m &= plugrad.tensor([1, 2, 3], device=device)  # int64 result into bool, as torch


@pytest.mark.parametrize("op", [*OPERATORS, "bitwise_not"])
def test_floats_are_refused(device, op):
    x = plugrad.tensor([1.0, 2.0], device=device)
    with pytest.raises(TypeError, match=f"{op} is only supported for integer"):
        getattr(plugrad, op)(x) if op == "bitwise_not" else getattr(plugrad, op)(x, x)
    if op != "bitwise_not":
        with pytest.raises(TypeError, match=op):
            OPERATORS[op](plugrad.tensor([1, 2], device=device), 1.5)
        with pytest.raises(TypeError, match=op):
            OPERATORS[op](x, x[:1])  # broadcast path


def test_shifts_refuse_bool(device):
    m = plugrad.tensor([True, False], device=device)
    with pytest.raises(TypeError, match="integer tensors"):
        m << m


def test_logical_results_on_bool_masks_unchanged(device):
    """& | ~ on bool masks give what they gave before bitwise ops existed."""
    a = plugrad.tensor([True, True, False, False], device=device)
    b = plugrad.tensor([True, False, True, False], device=device)
    assert (a & b).tolist() == [True, False, False, False]
    assert (a | b).tolist() == [True, True, True, False]
    assert (a ^ b).tolist() == [False, True, True, False]
    assert (~a).tolist() == [False, False, True, True]
    assert (a & b).dtype is plugrad.bool


@pytest.mark.parametrize("op", list(OPERATORS))
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_every_integer_dtype_against_torch(device, op, dtype):
    """Narrow integers keep their dtype; shifts wrap and saturate at their own width."""
    if dtype not in plugrad.backend.get_device(device).backend.dtypes:
        pytest.skip(f"{device} does not declare {dtype}")
    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    a = rng.integers(info.min, info.max, size=(4, 6), endpoint=True).astype(dtype)
    a.reshape(-1)[:3] = [info.min, info.max, 0 if info.min == 0 else -1]
    if "shift" in op:
        b = rng.integers(0, info.bits + 3, size=(6,)).astype(dtype)
    else:
        b = rng.integers(info.min, info.max, size=(6,), endpoint=True).astype(dtype)
    pa, pb = plugrad.tensor(a, device=device), plugrad.tensor(b, device=device)
    _check(OPERATORS[op](pa, pb), OPERATORS[op](torch.from_numpy(a), torch.from_numpy(b)))
    _check(~pa, ~torch.from_numpy(a))
