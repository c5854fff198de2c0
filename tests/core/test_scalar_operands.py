"""A Python int that does not fit the tensor's integer dtype: arithmetic with it is refused
(OverflowError naming the value, the dtype and its range, never a wrapped result or an FFI
error), while comparisons with it give NumPy's exact answer (it lies beyond every element)."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import plugrad

LIMITS = [2**63, -(2**63) - 1, 2**64, -(2**80)]
ARITHMETIC = {
    "add": lambda t, v: t + v,
    "radd": lambda t, v: v + t,
    "sub": lambda t, v: t - v,
    "rsub": lambda t, v: v - t,
    "mul": lambda t, v: t * v,
    "maximum": lambda t, v: t.maximum(v),
    "iadd": operator.iadd,
}
COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("value", LIMITS)
@pytest.mark.parametrize("op", list(ARITHMETIC), ids=list(ARITHMETIC))
def test_arithmetic_with_an_int_beyond_int64_is_refused(device, op, value):
    t = plugrad.tensor([1, -5], device=device)
    with pytest.raises(OverflowError, match=rf"Python int {value} does not fit .* int64 \(range "):
        ARITHMETIC[op](t, value)
    assert t.tolist() == [1, -5]  # an in-place form leaves the tensor as it was


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63)])
def test_the_extremes_of_int64_still_work(device, value):
    t = plugrad.tensor([0, 1], device=device)
    assert (t + value).tolist() == (np.array([0, 1]) + value).tolist()


@pytest.mark.parametrize("value", LIMITS)
@pytest.mark.parametrize("compare", COMPARISONS, ids=lambda f: f.__name__)
def test_comparisons_with_an_int_beyond_int64_are_exact(device, compare, value):
    host = np.array([1, -5, 2**63 - 1, -(2**63)])
    t = plugrad.tensor(host, device=device)
    assert compare(t, value).tolist() == compare(host, value).tolist()
    assert compare(value, t).tolist() == compare(value, host).tolist()


def test_a_float_tensor_takes_a_big_int(device):
    t = plugrad.tensor([1.0], device=device)
    assert (t + 2**63).item() == pytest.approx(2.0**63)
