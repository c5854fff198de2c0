"""Shapes the core makes: element counts (and row-major strides) must fit int64, sizes must be
non-negative, wherever a shape is made (factories, broadcasting, expand, reshape)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import plugrad
from plugrad.shapes import (
    INT64_MAX,
    ShapeOverflowError,
    broadcast_shapes,
    check_shape,
    compact_strides,
    prod,
    resolve_reshape,
)

DEVICES = plugrad.available_devices()


def test_prod_refuses_a_count_past_int64():
    assert prod((2**31, 2**31)) == 2**62
    assert prod((INT64_MAX,)) == INT64_MAX
    with pytest.raises(ShapeOverflowError, match="integer multiplication overflow"):
        prod((2**62, 2))
    with pytest.raises(RuntimeError, match=r"\(4611686018427387904, 4\)"):  # torch's type
        prod((2**62, 4))


def test_strides_must_fit_too_even_with_a_zero_size():
    assert compact_strides((0, 2**31, 2**31)) == (2**62, 2**31, 1)
    with pytest.raises(ShapeOverflowError):
        compact_strides((0, 2**62, 2**62))
    with pytest.raises(ShapeOverflowError):
        check_shape((0, 2**64))


def test_check_shape_refuses_negative_sizes():
    with pytest.raises(ValueError, match="negative dimension -5"):
        check_shape((-5,))


def test_broadcast_refuses_overflow_and_negative_sizes():
    assert broadcast_shapes((2**62, 1), (1, 1)) == (2**62, 1)
    with pytest.raises(ShapeOverflowError):
        broadcast_shapes((2**62, 1), (1, 4))
    with pytest.raises(ShapeOverflowError):
        broadcast_shapes((2**40, 1, 1), (1, 2**20, 1), (1, 1, 2**10))
    with pytest.raises(ValueError, match="negative dimension"):
        broadcast_shapes((-2, 3), (1, 3))


def test_reshape_refuses_an_overflowing_empty_shape():
    assert resolve_reshape(0, (0, 2**31, 2**31), (0,)) == (0, 2**31, 2**31)
    with pytest.raises(ShapeOverflowError):
        resolve_reshape(0, (0, 2**62, 2**62), (0,))
    with pytest.raises(ShapeOverflowError):
        resolve_reshape(1, (-1, 2**62, 2**62), (1,))


@pytest.mark.parametrize("device", DEVICES)
def test_public_api_refuses_overflowing_shapes(device):
    with plugrad.device(device):
        one = plugrad.ones(1, 1)
        for make in (
            lambda: one.expand(2**62, 4),
            lambda: one.expand(2**61, 4),  # exactly 2**63: one past int64
            lambda: one.broadcast_to((2**32, 2**31)),
            lambda: plugrad.zeros(2**62, 4),
            lambda: plugrad.empty(2**40, 2**40),
            lambda: plugrad.ones(0).reshape(0, 2**62, 2**62),
            lambda: one.expand(2**62, 1) + plugrad.ones(1, 4),  # broadcasting in an op
        ):
            with pytest.raises(ShapeOverflowError):
                make()
        big = one.expand(2**31, 2**31)  # 2**62 elements: a valid (stride 0) view
        assert big.shape == (2**31, 2**31) and big.numel() == 2**62
        with pytest.raises(ValueError, match="non-negative"):  # tests/core/test_arguments.py
            one.expand(-2, 3)
        with pytest.raises(ValueError, match="non-negative"):
            plugrad.ones(1).broadcast_to((-5,))


REDUCTIONS = textwrap.dedent(
    """
    import sys
    import plugrad
    from plugrad.shapes import ShapeOverflowError

    plugrad.set_default_device(sys.argv[1])
    for shape in [(2**62, 4), (2**61, 4), (2**32, 2**31), (2**63 - 1, 2)]:
        for name in ("amax", "amin", "max", "min", "sum", "mean", "logsumexp", "prod"):
            try:
                getattr(plugrad.ones(1, 1).expand(*shape), name)()
            except ShapeOverflowError:
                continue
            raise SystemExit(f"{name} of {shape} did not raise")
    print("refused")
    """
)


@pytest.mark.parametrize("device", DEVICES)
def test_reductions_of_overflowing_views_raise_instead_of_crashing(device):
    """The reproducers of SIGFPE (amax, amin, max, logsumexp) and of silent 0 / -inf (sum,
    mean, amax) on c_cpu; in a subprocess, so a crash fails the test instead of the run."""
    result = subprocess.run(
        [sys.executable, "-c", REDUCTIONS, device], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stdout.strip() == "refused"
