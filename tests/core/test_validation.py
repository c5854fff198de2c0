"""The shared argument checks (`plugrad.backend.validation`) as a third-party backend uses them:
a toy backend with its own buffer type, checked before any memory is touched."""

from __future__ import annotations

import numpy as np
import pytest

from plugrad.backend import Strided
from plugrad.backend.validation import Validator, check_scalar, has_compact_strides, layout


class ToyBuffer:
    """A backend's own buffer: `size` elements of `dtype` (here on the host)."""

    def __init__(self, size: int, dtype: str) -> None:
        self.size, self.dtype = size, dtype


CHECK = Validator("toy", ToyBuffer, ("float32", "int64", "bool"), max_dims=4)


def view(size, shape, strides, offset=0, dtype="float32", buffer=None) -> Strided:
    return Strided(buffer or ToyBuffer(size, dtype), shape, strides, offset, dtype)


def test_layout_counts_and_extents():
    assert layout((2, 3), (3, 1)) == (6, 0, 5)
    assert layout((2, 3), (-3, 1)) == (6, -3, 2)
    assert layout((4, 0), (7, 1)) == (0, 0, 0)  # empty: reaches nothing
    assert layout((2**31, 2**31), (0, 0)) == (2**62, 0, 0)
    with pytest.raises(ValueError, match="integer multiplication overflow"):
        layout((2**62, 2), (0, 0))


def test_view_accepts_views_inside_the_buffer():
    assert CHECK.view(view(6, (2, 3), (3, 1)), "unary") == 6
    assert CHECK.view(view(6, (2, 3), (-3, 1), offset=3), "unary") == 6
    assert CHECK.view(view(1, (5, 7), (0, 0)), "unary") == 35  # broadcast
    assert CHECK.view(view(0, (0, 3), (3, 1), offset=9), "unary") == 0  # empty: any offset


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (view(6, (2, 3), (3, 1), offset=1), IndexError, r"reaches elements \[1, 6\]"),
        (view(6, (2, 3), (-3, 1)), IndexError, r"\[-3, 2\] outside its buffer of 6"),
        (view(6, (2, 3), (3,)), ValueError, "differ in length"),
        (view(6, (2, -3), (3, 1)), ValueError, "negative size"),
        (view(6, (2.5, 3), (3, 1)), TypeError, "must be integers"),
        (view(6, (2, 3), (3, 1), offset=0.5), TypeError, "offset must be an integer"),
        (view(1, (2**62, 4), (0, 0)), ValueError, "integer multiplication overflow"),
        (view(1, (1,) * 5, (0,) * 5), ValueError, "5 dimensions, at most 4"),
        (
            view(6, (6,), (1,), dtype="int64", buffer=ToyBuffer(6, "float32")),
            TypeError,
            "view dtype int64 does not match buffer float32",
        ),  # fmt: skip
        (Strided(np.zeros(6), (6,), (1,), 0, "float32"), TypeError, "expected a toy buffer"),
    ],
    ids=[
        "past-end",
        "below-start",
        "lengths",
        "negative",
        "float",
        "offset",
        "count",
        "ndim",
        "dtype",
        "foreign",
    ],  # fmt: skip
)
def test_view_refuses_with_a_message_naming_backend_and_kernel(x, error, match):
    with pytest.raises(error, match=match) as info:
        CHECK.view(x, "unary", role="out")
    assert str(info.value).startswith("toy unary out")


def test_layout_checks_are_cached_per_validator():
    checker = Validator("toy", ToyBuffer, ("float32",))
    x = view(6, (2, 3), (3, 1))
    checker.view(x, "unary")
    assert checker._layouts == {((2, 3), (3, 1)): (6, 0, 5)}
    checker.view(view(6, (2, 3), (3, 1), offset=0), "binary")  # a hit: same entry
    assert len(checker._layouts) == 1


def test_kernel_checks_return_what_the_kernel_needs():
    x, out = view(6, (2, 3), (3, 1)), view(2, (2,), (1,))
    assert CHECK.reduce("sum", x, [1], out) == (1,)
    kept = view(2, (2, 1), (1, 1))
    assert CHECK.reduce("sum", x, (1,), kept) == (1,)
    assert CHECK.arg_reduce("argmax", x, 1, view(2, (2,), (1,), dtype="int64")) == 1
    a, b = view(6, (1, 2, 3), (6, 3, 1)), view(12, (4, 3, 1), (3, 1, 1))
    assert CHECK.matmul(a, b, view(8, (4, 2, 1), (2, 1, 1))) == (4, 2, 1, 3)
    assert CHECK.binary("lt", x, x, view(6, (2, 3), (3, 1), dtype="bool")) == 6


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x, o: CHECK.reduce("sum", x, (2,), o), "axis 2 out of range"),
        (lambda x, o: CHECK.reduce("sum", x, (-1,), o), r"axes in \[0, 2\)"),
        (lambda x, o: CHECK.reduce("sum", x, (1, 1), o), "repeated axis"),
        (lambda x, o: CHECK.reduce("mean", x, (1,), o), "unknown reduction"),
        (lambda x, o: CHECK.unary("cube", x, x), "unknown unary op"),
        (lambda x, o: CHECK.binary("add", x, o, x), "shapes differ"),
        (lambda x, o: CHECK.scalar("add", x, None, x), "must be a real number"),
        (lambda x, o: CHECK.fill(x, "1"), "must be a real number"),
    ],
)
def test_kernel_checks_refuse(call, match):
    x, out = view(6, (2, 3), (3, 1)), view(2, (2,), (1,))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x, out)


def test_scatter_add_index_may_not_exceed_src():
    out, src = view(6, (2, 3), (3, 1)), view(2, (2, 1), (1, 1))
    index = view(6, (2, 3), (3, 1), dtype="int64")
    with pytest.raises(ValueError, match="index may not be larger than src"):
        CHECK.scatter_add(out, 1, index, src)
    assert CHECK.scatter_add(out, 1, view(2, (2, 1), (1, 1), dtype="int64"), src) == (1, 2)


def test_conv_geometry_is_integers_and_a_real_kernel():
    x, w = view(9, (1, 1, 3, 3), (9, 9, 3, 1)), view(4, (1, 1, 2, 2), (4, 4, 2, 1))
    o = view(4, (1, 1, 2, 2), (4, 4, 2, 1))
    assert CHECK.conv2d(x, w, o, (1, 1), (0, 0), (1, 1), 1)[:9] == (1, 1, 3, 3, 1, 2, 2, 2, 2)
    with pytest.raises(TypeError, match="stride must be 2 integer"):
        CHECK.conv2d(x, w, o, (1.5, 1.5), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match="groups"):
        CHECK.conv2d(x, w, o, (1, 1), (0, 0), (1, 1), 3.7)
    empty_w = view(0, (1, 1, 0, 0), (0, 0, 0, 1))
    with pytest.raises(ValueError, match="kernel of at least 1x1"):
        CHECK.conv2d(x, empty_w, view(25, (1, 1, 5, 5), (25, 25, 5, 1)), (1, 1), (0, 0),
                     (1, 1), 1)  # fmt: skip


def test_check_scalar_by_dtype():
    check_scalar(1e300, "float32", "t")  # floating: any real (inf and NaN included)
    check_scalar(np.float64("nan"), "float32", "t")
    check_scalar(2.0, "int64", "t")  # integral floats are fine for integers
    check_scalar(True, "int64", "t")
    check_scalar(7, "bool", "t")
    for value, dtype in ((2**63, "int64"), (-(2**63) - 1, "int64"), (0.5, "int64")):
        with pytest.raises(ValueError):
            check_scalar(value, dtype, "t")
    for value in (None, "3", 1j, [1]):
        with pytest.raises(TypeError):
            check_scalar(value, "float32", "t")


def test_allocation():
    assert CHECK.allocation(5, "int64") == 5
    assert CHECK.allocation(np.int64(5), "int64") == 5
    with pytest.raises(ValueError, match="negative size"):
        CHECK.allocation(-1, "float32")
    with pytest.raises(TypeError, match="must be an integer"):
        CHECK.allocation(2.5, "float32")
    with pytest.raises(TypeError, match="cannot store dtype 'float64'"):
        CHECK.allocation(3, "float64")
    with pytest.raises(MemoryError):
        CHECK.allocation(2**61, "int64")  # 2**64 bytes


def test_host_array_sharing_and_dtypes():
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    flat, share = CHECK.host_array(data, copy=False)
    assert share and flat.shape == (6,) and np.shares_memory(flat, data)
    assert CHECK.host_array(data, copy=True)[1] is False
    assert CHECK.host_array(data.T, copy=False)[1] is False  # not contiguous once flattened
    readonly = np.arange(3, dtype=np.int64)
    readonly.flags.writeable = False
    assert CHECK.host_array(readonly, copy=False)[1] is False
    with pytest.raises(TypeError, match="cannot store NumPy dtype uint64"):
        CHECK.host_array(np.arange(3, dtype=np.uint64), copy=True)
    with pytest.raises(TypeError, match="cannot store NumPy dtype >f4"):
        CHECK.host_array(np.arange(3, dtype=">f4"), copy=True)


def test_host_array_normalises_bool_bytes():
    raw = np.array([0, 1, 2, 255], dtype=np.uint8).view(np.bool_)
    fixed, share = CHECK.host_array(raw, copy=True)
    assert not share and fixed.view(np.uint8).tolist() == [0, 1, 1, 1]
    with pytest.warns(RuntimeWarning, match="copied as True instead of shared"):
        fixed, share = CHECK.host_array(raw, copy=False)
    assert not share and fixed.view(np.uint8).tolist() == [0, 1, 1, 1]
    assert raw.view(np.uint8).tolist() == [0, 1, 2, 255]  # the caller's bytes are untouched
    canonical = np.array([True, False])
    assert CHECK.host_array(canonical, copy=False) == (canonical, True)


def test_has_compact_strides():
    assert has_compact_strides((2, 3), (3, 1))
    assert has_compact_strides((2, 1, 3), (3, 99, 1))  # any stride on a size-1 dim
    assert not has_compact_strides((2, 3), (1, 2))
