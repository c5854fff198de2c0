"""Integer contractions keep their operands' dtype, as torch's: tensordot and einsum of uint8
or int8 tensors are uint8 or int8 (wrapping), not the int64 that a sum alone would give."""

from __future__ import annotations

import numpy as np
import pytest
from select_oracle import torch

import plugrad


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_integer_contractions_keep_the_dtype(device, dtype):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, size=(3, 4))
    b = rng.integers(0, 100, size=(4, 2))
    pa, pb = (plugrad.tensor(x, dtype=dtype, device=device) for x in (a, b))
    ta, tb = (torch.tensor(x, dtype=getattr(torch, dtype)) for x in (a, b))
    cases = [
        (plugrad.tensordot(pa, pb, dims=1), torch.tensordot(ta, tb, dims=1)),
        (plugrad.tensordot(pa, pa, dims=2), torch.tensordot(ta, ta, dims=2)),
        (plugrad.einsum("ij,jk->ik", pa, pb), torch.einsum("ij,jk->ik", ta, tb)),
        (plugrad.einsum("ij,ij->i", pa, pa), torch.einsum("ij,ij->i", ta, ta)),
    ]
    for got, want in cases:
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        assert got.tolist() == want.tolist()
