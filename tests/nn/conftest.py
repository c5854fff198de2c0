"""Fixtures of the nn tests."""

from __future__ import annotations

import pytest

import plugrad


@pytest.fixture(params=[plugrad.float32, plugrad.float64], ids=lambda d: d.name)
def dtype(request):
    """Each floating dtype: float64 is compared within 1e-6, float32 within 1e-4."""
    return request.param
