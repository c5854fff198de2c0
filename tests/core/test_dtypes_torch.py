"""Every dtype against torch: promotion over every pair (tensor-tensor, 0-d, Python scalars),
casting between every pair, arithmetic and comparisons, reductions' accumulation dtypes, the
names and aliases, finfo/iinfo, and NumPy conversion without widening. Values run on every
installed device that declares the dtypes; a device that does not is checked to refuse them
with the core's message."""

from __future__ import annotations

import itertools
import operator

import ml_dtypes
import numpy as np
import pytest

import plugrad

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

DTYPES = list(plugrad.dtypes.ALL.values())
IDS = [d.name for d in DTYPES]
PAIRS = list(itertools.product(DTYPES, DTYPES))
PAIR_IDS = [f"{a.name}-{b.name}" for a, b in PAIRS]
TORCH = {d.name: getattr(torch, d.name) for d in DTYPES}
VALUES = [0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 100.0, 127.0]
OTHER = [1.0, 3.0, 2.0, 0.0, 5.0, 4.0, 8.0, 2.0]
SCALARS = [True, 3, -2, 2.5]


def _t(dtype: plugrad.DType) -> torch.dtype:
    return TORCH[dtype.name]


def _torch_values(values: list[float], dtype: plugrad.DType) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).to(_t(dtype))


def _ours(values: list[float], dtype: plugrad.DType, device, shape=None) -> plugrad.Tensor:
    host = np.asarray(values, dtype=np.float64).astype(dtype.numpy)
    return plugrad.tensor(host if shape is None else host.reshape(shape), device=device)


def _host(t: torch.Tensor) -> np.ndarray:
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _check(ours: plugrad.Tensor, theirs: torch.Tensor) -> None:
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    got = ours.numpy()
    got = got.astype(np.float32) if got.dtype == ml_dtypes.bfloat16 else got
    np.testing.assert_array_equal(got, _host(theirs))


def _supports(device, *dtypes: plugrad.DType) -> bool:
    return all(d.name in device.backend.dtypes for d in dtypes)


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_promote_types_is_torchs(a, b):
    assert plugrad.dtypes.promote(a, b).name == str(torch.promote_types(_t(a), _t(b)))[6:]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_zero_dim_and_scalar_promotion_is_torchs(a, b):
    """A 0-d operand or a Python number counts only when of a higher category (torch)."""
    dim, zero = torch.ones(2, dtype=_t(a)), torch.ones((), dtype=_t(b))
    assert plugrad.dtypes.promote_arrays(a, False, b, True) == str(torch.result_type(dim, zero))[6:]
    assert plugrad.dtypes.promote_arrays(b, True, a, False) == str(torch.result_type(zero, dim))[6:]
    for value in SCALARS:
        assert plugrad.dtypes.promote_scalar(a, value) == str(torch.result_type(dim, value))[6:]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_arithmetic_and_comparisons_match_torch(device, a, b):
    if not _supports(device, a, b):
        pytest.skip(f"{device.name} does not declare {a.name} and {b.name}")
    x, y = _ours(VALUES, a, device), _ours(OTHER, b, device)
    tx, ty = _torch_values(VALUES, a), _torch_values(OTHER, b)
    for op in (operator.add, operator.mul, operator.truediv, operator.eq, operator.lt,
               operator.ge):  # fmt: skip
        _check(op(x, y), op(tx, ty))
    _check(plugrad.maximum(x, y), torch.maximum(tx, ty))
    if torch.bool not in (_t(a), _t(b)):
        _check(x - y, tx - ty)
    # 0-d operands promote as torch (an int8 tensor plus a 0-d int64 stays int8)
    zero, tzero = _ours([3.0], b, device, ()), _torch_values([3.0], b).reshape(())
    _check(x * zero, tx * tzero)
    _check(zero + x, tzero + tx)


@pytest.mark.parametrize("a", DTYPES, ids=IDS)
def test_scalar_operands_match_torch(device, a):
    if not _supports(device, a):
        pytest.skip(f"{device.name} does not declare {a.name}")
    x, tx = _ours(VALUES, a, device), _torch_values(VALUES, a)
    for value in SCALARS:
        if a is plugrad.uint8 and value == -2:
            continue  # plugrad refuses Python ints outside the dtype's range (torch wraps)
        _check(x * value, tx * value)
        _check(x == value, tx == value)
        if a is not plugrad.bool_ and not isinstance(value, bool):
            _check(x + value, tx + value)
    _check(x / 2, tx / 2)  # integer / integer is float32, as torch


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=PAIR_IDS)
def test_casting_matches_torch(device, a, b):
    if not _supports(device, a, b):
        pytest.skip(f"{device.name} does not declare {a.name} and {b.name}")
    values = [0.0, 1.0, 2.5, 3.0, 100.75, 127.0, 0.125, 1.0 / 3.0]
    _check(_ours(values, a, device).to(b), _torch_values(values, a).to(_t(b)))


@pytest.mark.parametrize("a", DTYPES, ids=IDS)
def test_reductions_accumulate_as_torch(device, a):
    """sum/prod of bool and integers give int64; float16/bfloat16 accumulate in float32 (a
    float16 sum of 4096 ones is 4096, not 2048 where float16 stops counting)."""
    if not _supports(device, a):
        pytest.skip(f"{device.name} does not declare {a.name}")
    x, tx = _ours(VALUES, a, device, (2, 4)), _torch_values(VALUES, a).reshape(2, 4)
    _check(x.sum(), tx.sum())
    _check(x.sum(dim=1), tx.sum(dim=1))
    _check(x.max(), tx.max())
    if a is not plugrad.bool_:  # torch has no argmax of bool
        _check(x.argmax(), tx.argmax())
    if a.is_floating:
        ones = plugrad.ones(4096, dtype=a, device=device)
        _check(ones.sum(), torch.ones(4096, dtype=_t(a)).sum())
    if a is not plugrad.bool_:
        small = [1.0, 2.0, 1.0, 3.0]
        _check(_ours(small, a, device).prod(), _torch_values(small, a).prod())


@pytest.mark.parametrize("a", [plugrad.float16, plugrad.bfloat16], ids=["float16", "bfloat16"])
def test_half_matmul_accumulates_in_float32(device, a):
    if not _supports(device, a):
        pytest.skip(f"{device.name} does not declare {a.name}")
    rng = np.random.default_rng(0)
    left, right = rng.standard_normal((5, 300)), rng.standard_normal((300, 3))
    got = _ours(left.ravel(), a, device, (5, 300)) @ _ours(right.ravel(), a, device, (300, 3))
    exact = left.astype(a.numpy).astype(np.float64) @ right.astype(a.numpy).astype(np.float64)
    rounded = exact.astype(a.numpy).astype(np.float64)  # float32 accumulation rounds once
    got = got.numpy().astype(np.float64)
    np.testing.assert_allclose(got, rounded, rtol=2 * plugrad.finfo(a).eps, atol=1e-6)


def test_names_and_aliases_are_torchs():
    for alias in ("half", "float", "double", "long", "int", "short", "bfloat16", "bool"):
        assert getattr(plugrad, alias).name == str(getattr(torch, alias))[6:]
    for d in DTYPES:
        assert plugrad.dtypes.as_dtype(d.name) is d
        assert plugrad.dtypes.as_dtype(d.numpy) is d
        assert d.is_floating_point == _t(d).is_floating_point
    assert plugrad.dtypes.as_dtype(np.int32) is plugrad.int32
    assert plugrad.dtypes.as_dtype(ml_dtypes.bfloat16) is plugrad.bfloat16
    with pytest.raises(TypeError, match="unsupported dtype 'complex64'"):
        plugrad.dtypes.as_dtype("complex64")


@pytest.mark.parametrize("a", DTYPES, ids=IDS)
def test_finfo_and_iinfo_are_torchs(a):
    if a.is_floating:
        ours, theirs = plugrad.finfo(a), torch.finfo(_t(a))
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, field) == getattr(theirs, field), field
        with pytest.raises(TypeError, match="iinfo takes an integer dtype"):
            plugrad.iinfo(a)
    elif a is not plugrad.bool_:
        ours, theirs = plugrad.iinfo(a), torch.iinfo(_t(a))
        assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)
        with pytest.raises(TypeError, match="finfo takes a floating dtype"):
            plugrad.finfo(a)


@pytest.mark.parametrize(
    ("method", "dtype"),
    [("half", "float16"), ("bfloat16", "bfloat16"), ("int", "int32"), ("short", "int16"),
     ("char", "int8"), ("byte", "uint8"), ("long", "int64"), ("float", "float32"),
     ("double", "float64"), ("bool", "bool")],
)  # fmt: skip
def test_conversion_methods_are_torchs(method, dtype):
    device = "numpy_ref"
    x = plugrad.tensor([0.5, 1.5, 2.0], device=device)
    theirs = getattr(torch.tensor([0.5, 1.5, 2.0]), method)()
    _check(getattr(x, method)(), theirs)
    assert x.to(dtype).dtype == dtype and x.astype(dtype).dtype == dtype
    assert getattr(x, method)().is_floating_point() == theirs.is_floating_point()


@pytest.mark.parametrize("a", DTYPES, ids=IDS)
def test_numpy_arrays_convert_without_widening(device, a):
    host = np.arange(6).reshape(2, 3).astype(a.numpy)
    if not _supports(device, a):
        with pytest.raises(TypeError, match=f"does not support dtype {a.name}"):
            plugrad.tensor(host, device=device)
        return
    t = plugrad.tensor(host, device=device)
    assert t.dtype is a and t.numpy().dtype == host.dtype
    if device.backend.is_host:
        shared = plugrad.from_numpy(host, device=device)
        host[0, 0] = 1
        assert shared.dtype is a and shared.numpy()[0, 0] == host[0, 0]
